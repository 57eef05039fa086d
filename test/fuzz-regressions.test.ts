import assert from 'node:assert/strict';
import { maxFrameBytesFor } from '../proto/data-plane/limits.js';
import { decodeFrame, type FrameOf } from '../proto/frames.js';
import type { SimCluster } from '../sim/index.js';
import { packAny, wireTensor } from './helpers/fuzz-frames.js';
import {
  alive,
  asBuffer,
  countDroppedFrames,
  FuzzLink,
  sleep,
  startFuzzCluster,
  tapLinks,
} from './helpers/fuzz-cluster.js';

/** Frames the data-plane fuzzer (fuzz.test.ts) once got through, each kept as a test of its own. */
describe('robustness: regressions found by the data-plane fuzzer (real agent processes)', function () {
  this.timeout(300_000);
  let cluster: SimCluster;
  let addresses: Map<string, string>;
  let hiddenSize: number;
  let captured: FrameOf<'stage-input'>;

  before(async () => {
    ({ cluster, addresses, hiddenSize, captured } = await startFuzzCluster());
  });

  after(async () => cluster?.stop());

  it('a well-formed hidden state longer than any request (2048 tokens) is refused at decoding and never reaches ONNX Runtime', async () => {
    // Before the frame checked its tensors against a request's limits, this one frame made agent-1
    // scatter 2048-token attention to agent-2, which computed for seconds (missing heartbeats, so
    // the coordinator evicted it and replanned) while agent-0 grew by 600 MB.
    const key = cluster.coordinator.dataPlaneKey!;
    const seq = 2048;
    const mask = wireTensor('int64', [1, seq], new BigInt64Array(seq).fill(1n));
    const hidden = wireTensor('float32', [1, seq, hiddenSize], new Float32Array(seq * hiddenSize).fill(0.5));
    const { inputIds: _ids, ...rest } = captured;
    const frames: [string, object][] = [
      [
        'agent-1',
        { ...rest, requestId: 'fuzz-long', planVersion: key.planVersion, stage: 1, hidden, attentionMask: mask },
      ],
      [
        'agent-2',
        {
          type: 'scatter',
          requestId: 'fuzz-long',
          planVersion: key.planVersion,
          layer: cluster.plan.stages[1]!.layerStart,
          part: 'attention',
          hidden,
          attentionMask: mask,
        },
      ],
    ];
    const dropped = countDroppedFrames(cluster);
    try {
      for (const [agent, frame] of frames) {
        const link = new FuzzLink(agent, addresses.get(agent)!, key, maxFrameBytesFor(hiddenSize));
        await link.open();
        const before = await link.stats();
        const started = performance.now();
        await link.send(packAny(frame));
        const after = await link.stats();
        const ms = performance.now() - started;
        await sleep(100);
        assert.equal(dropped.counts.get(agent), 1, `${agent} did not refuse the 2048-token frame`);
        assert.equal(
          after.stageRuns - before.stageRuns + after.partialRuns - before.partialRuns,
          0,
          `${agent} ran the 2048-token frame`,
        );
        assert.ok(ms < 1000, `${agent} took ${ms.toFixed(0)} ms to answer after the frame`);
        assert.throws(() => decodeFrame(packAny(frame)), /512 tokens/);
        link.close();
      }
    } finally {
      dropped.stop();
    }
    assert.deepEqual(alive(cluster), [true, true, true]);
  });

  it('a request id sent twice to a group host fails the second at once instead of stranding the first for the group timeout', async () => {
    // Before, the second wait on (request, layer, part) replaced the first: the members' partials
    // all went to the second, and the first hung for the 10 s group timeout holding a step slot.
    const key = cluster.coordinator.dataPlaneKey!;
    const { inputIds: _ids, ...rest } = captured;
    const [, seq] = captured.attentionMask.shape as [number, number];
    const frame = {
      ...rest,
      requestId: 'fuzz-dup',
      planVersion: key.planVersion,
      stage: 1,
      hidden: wireTensor('float32', [1, seq, hiddenSize], new Float32Array(seq * hiddenSize).fill(0.25)),
    };
    const seen: string[] = [];
    const untap = tapLinks((_link, data) => {
      try {
        const f = decodeFrame(asBuffer(data));
        if ('requestId' in f && f.requestId === 'fuzz-dup' && (f.type === 'result' || f.type === 'error'))
          seen.push(f.type === 'error' ? `error: ${f.message}` : 'result');
      } catch {
        /* not ours */
      }
    });
    const link = new FuzzLink('agent-1', addresses.get('agent-1')!, key, maxFrameBytesFor(hiddenSize));
    try {
      await link.open();
      await link.send(packAny(frame));
      await link.send(packAny(frame));
      for (let waited = 0; seen.length < 2 && waited < 3000; waited += 20) await sleep(20);
    } finally {
      untap();
      link.close();
    }
    assert.equal(seen.length, 2, `answers within 3 s: ${JSON.stringify(seen)}`);
    assert.ok(seen.includes('result'), JSON.stringify(seen));
    assert.ok(
      seen.some((m) => /duplicate request id/.test(m)),
      JSON.stringify(seen),
    );
  });
});
