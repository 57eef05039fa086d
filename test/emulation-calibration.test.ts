import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ComputeStretch, HostSpeed, type EmulationRecord } from '@edgerelay/device-agent';
import { EmulationSharing } from '../device-agent/emulation-sharing.js';
import { workKeyOf } from '../device-agent/plan/work-key.js';
import { burn } from './helpers/burn.js';

describe('emulation calibration: a steady emulated device on a machine whose speed wanders', () => {
  it('gives shards that differ only in their layer one work key, and different work different keys', () => {
    const layer = (l: number) =>
      workKeyOf({ kind: 'layers', start: l, end: l + 1, attentionReceived: true }, 28_352_100 + l);
    assert.equal(layer(3), layer(10));
    const partial = (heads: number[]) => workKeyOf({ kind: 'attention-partial', layer: 0, heads }, 7_000_000);
    assert.equal(partial([0, 1, 2]), partial([9, 10, 11]));
    assert.notEqual(partial([0, 1, 2]), partial([0, 1, 2, 3]));
    // A pruned or int8 layer is less work: its size tells it apart.
    assert.notEqual(layer(3), workKeyOf({ kind: 'layers', start: 3, end: 4, attentionReceived: true }, 7_100_000));
    assert.notEqual(workKeyOf({ kind: 'head', layer: 1 }, 2_400_000), workKeyOf({ kind: 'embeddings' }, 2_400_000));
  });

  it('stretches a run by the cleanest CPU time of its key, so a run slowed by other work is not the device', async () => {
    const record: EmulationRecord = {
      emulatedRuns: 0,
      emulationTargetMs: 0,
      emulationOvershootMs: 0,
      emulationOvershotRuns: 0,
      emulationReferenceGflops: 0,
    };
    const stretch = new ComputeStretch(4, record);
    const counters = () => record;
    await stretch.around('k', () => burn(10));
    const first = counters().emulationTargetMs;
    assert.ok(Math.abs(first - 4 * stretch.cleanestCpuMs().k!) < 1e-9, 'the target is the CPU time × the ratio');
    // The same work with four times the CPU spent in the process (other work while it ran): stretched from the
    // cleanest figure, never to 4 × its own CPU time. (Counters, not the clock: a busy machine cannot fail this.)
    await stretch.around('k', () => burn(40));
    const second = counters().emulationTargetMs - first;
    assert.ok(second <= first + 1e-9, `second target ${second} ms, first ${first} ms`);
    assert.equal(counters().emulatedRuns, 2);
  });

  it('measures the reference speed and only ever raises it', async () => {
    const speed = await HostSpeed.start(1, { initialSamples: 3 });
    try {
      const g = speed.gflops;
      assert.ok(g > 0.1 && Number.isFinite(g), `reference ${g} GFLOP/s`);
      assert.equal(speed.samples, 3);
      speed.offer(g / 2);
      assert.equal(speed.gflops, g);
      speed.offer(g * 2);
      assert.equal(speed.gflops, g * 2);
      const stretch = new ComputeStretch({ reference: speed, deviceGflops: g / 5 });
      assert.equal(stretch.ratio, 10);
    } finally {
      await speed.release();
    }
  });

  it('pools what the agents of one machine measured: the cleaner time and the faster reference win on both sides', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-calibration-'));
    const [a, b] = [await HostSpeed.start(1, { initialSamples: 1 }), await HostSpeed.start(1, { initialSamples: 1 })];
    try {
      a.offer(500);
      const sa = new ComputeStretch({ reference: a, deviceGflops: 10 });
      const sb = new ComputeStretch({ reference: b, deviceGflops: 10 });
      sa.mergeCleanest({ layer: 5, head: 1 });
      sb.mergeCleanest({ layer: 3, ffn: 2 });
      const pa = new EmulationSharing(dir, 'a', sa, a);
      const pb = new EmulationSharing(dir, 'b', sb, b);
      pa.share();
      pb.share();
      pa.share();
      for (const s of [sa, sb]) assert.deepEqual(s.cleanestCpuMs(), { layer: 3, head: 1, ffn: 2 });
      assert.equal(b.gflops, 500);
      assert.equal(sb.ratio, 50);
      pa.stop();
      pb.stop();
    } finally {
      await Promise.all([a.release(), b.release()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
