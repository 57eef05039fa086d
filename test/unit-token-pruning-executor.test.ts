import assert from 'node:assert/strict';
import type { Plan__Output as Plan } from '../proto/control.js';
import type { FrameOf } from '../proto/frames.js';
import { StageExecutor } from '../device-agent/executor/stage-executor.js';
import { AgentStats } from '../device-agent/executor/stats.js';
import { fromWire, int64Tensor, toWire } from '../device-agent/runtime/index.js';
import { FAKE_HIDDEN, fakeLoadedPlan, recordingPorts } from './helpers/unit-fake-shards.js';

/**
 * A stage host under token pruning, with arithmetic fake shards: embeddings put each token id in
 * every hidden unit, layer L adds L + 1, and a token's score is its first hidden unit, so the kept
 * rows are known in advance: [CLS] and [SEP] (first and last) plus the largest ids.
 */

const TOKENS = [2, 9, 4, 7, 3, 5];

/** 4 layers, exits after layers 1 and 3: agent "a" runs layers 0-2, agent "b" layer 3. */
function pipelinePlan(): Plan {
  return {
    version: 3,
    modelId: 'unit',
    stages: [
      { layerStart: 0, layerEnd: 3, host: 'a', members: [] },
      { layerStart: 3, layerEnd: 4, host: 'b', members: [] },
    ],
    endpoints: [],
    exit: null,
    numLabels: 2,
    exitLayers: [1, 3],
    wireDtype: 'float32',
    numLayers: 4,
    hiddenSize: FAKE_HIDDEN,
  };
}

function input(keep?: number[]): FrameOf<'stage-input'> {
  const dims = [1, TOKENS.length];
  return {
    type: 'stage-input',
    requestId: 'req-1',
    planVersion: 3,
    stage: 0,
    inputIds: toWire(int64Tensor(BigInt64Array.from(TOKENS, BigInt), dims)),
    attentionMask: toWire(int64Tensor(new BigInt64Array(TOKENS.length).fill(1n), dims)),
    exitPolicy: 'none',
    exitState: {},
    trace: [],
    ...(keep && { tokenPruning: { keep, length: TOKENS.length } }),
  };
}

async function runStage0(keep?: number[]) {
  const plan = pipelinePlan();
  const { loaded, calls } = fakeLoadedPlan(plan, 'a', { headLogits: () => [0, 0] });
  const ports = recordingPorts();
  await new StageExecutor({ agentId: 'a', groupTimeoutMs: 1000 }, ports, new AgentStats()).runStage(
    input(keep),
    loaded,
  );
  const next = ports.sent.find((s) => s.to === 'b')!.frame as FrameOf<'stage-input'>;
  return { calls, next };
}

describe('StageExecutor under token pruning (unit, fake shards)', () => {
  it('keeps the top-k rows between layers and forwards only them, with a pruned mask and the schedule', async () => {
    // Layer 2 runs on ⌈0.5 · 6⌉ = 3 tokens: 2 and 5 (first, last) and 9 (the best score).
    const { calls, next } = await runStage0([1, 1, 0.5, 0.5]);
    const layer2 = calls.find((c) => c.key.startsWith('layers:2-3'))!;
    assert.deepEqual(layer2.feeds.attention_mask!.dims, [1, 3]);
    // Layers 0 and 1 added 1 + 2 to every unit.
    assert.deepEqual(Array.from(layer2.feeds.hidden!.data as Float32Array), [5, 5, 12, 12, 8, 8]);
    const hidden = fromWire(next.hidden!);
    assert.deepEqual(hidden.dims, [1, 3, FAKE_HIDDEN]);
    assert.deepEqual(Array.from(hidden.data as Float32Array), [8, 8, 15, 15, 11, 11]);
    assert.deepEqual(fromWire(next.attentionMask).dims, [1, 3]);
    assert.deepEqual(next.tokenPruning, { keep: [1, 1, 0.5, 0.5], length: 6 });
  });

  it('prunes before forwarding when the next stage starts with fewer tokens', async () => {
    // Layer 3 (the next stage's) runs on 2 tokens: only [CLS] and [SEP] travel.
    const { next } = await runStage0([1, 1, 1, 0.2]);
    assert.deepEqual(Array.from(fromWire(next.hidden!).data as Float32Array), [8, 8, 11, 11]);
  });

  it('leaves the request untouched without a schedule or with all ones', async () => {
    for (const keep of [undefined, [1, 1, 1, 1]]) {
      const { next } = await runStage0(keep);
      assert.deepEqual(fromWire(next.hidden!).dims, [1, TOKENS.length, FAKE_HIDDEN]);
      assert.deepEqual(fromWire(next.attentionMask).dims, [1, TOKENS.length]);
    }
  });
});
