import assert from 'node:assert/strict';
import path from 'node:path';
import {
  clusterFromFile,
  planCluster,
  predictPlan,
  readClusterFile,
  validatePlan,
  type PlannerModel,
  type PlannerOptions,
} from '../coordinator/planning/index.js';
import { completePlan } from '../coordinator/planning/plan-model.js';

const H = 768;
const A = 12;
const d = H / A;
const base: PlannerModel = {
  modelId: 'bert-base',
  numLayers: 12,
  numHeads: A,
  intermediateSize: 4 * H,
  numLabels: 2,
  exitLayers: [11],
  hiddenSize: H,
  vocabSize: 30522,
  maxPositions: 512,
};
const opts: PlannerOptions = {
  objective: 'latency',
  seqLen: 128,
  wireDtype: 'float32',
  version: 1,
  exitThreshold: 0.9,
};
// 40% of the heads: layers 0-5 keep 12, layers 6-11 lose 2-12 (layer 11 loses every head).
const prunedHeads = Array.from({ length: 12 }, (_, l) =>
  l < 6 ? [] : Array.from({ length: [2, 6, 8, 10, 12, 12][l - 6]! }, (_, h) => h),
);
const pruned: PlannerModel = { ...base, prunedHeads };
const removed = prunedHeads.flat().length;
/** Q, K, V and output projection of one head, with its Q/K/V biases, float32. */
const HEAD_BYTES = (4 * H * d + 3 * d) * 4;

describe('head pruning: the planner counts the heads each layer has left', function () {
  const cluster = clusterFromFile(readClusterFile(path.resolve('sim/clusters', '4x-pi4-gigabit.json')));
  const ids = cluster.devices.map((x) => x.id);

  it('a pipeline stage holds exactly the pruned heads’ weights less and computes less', () => {
    const plan = completePlan({
      version: 1,
      stages: [
        { layerStart: 0, layerEnd: 6, host: ids[0]!, members: [] },
        { layerStart: 6, layerEnd: 12, host: ids[1]!, members: [] },
      ],
    });
    const full = predictPlan(plan, cluster, base, opts);
    const cut = predictPlan(plan, cluster, pruned, opts);
    const memory = (p: typeof full, i: number) => p.devices.find((x) => x.agent === ids[i])!.memoryBytes;
    assert.equal(memory(cut, 0), memory(full, 0), 'stage 1 lost no head');
    // Weights shrink by exactly the removed heads; the activations (the largest single run) cannot grow.
    const saved = memory(full, 1) - memory(cut, 1);
    assert.ok(saved >= removed * HEAD_BYTES - 1, `saved ${saved} B, heads ${removed * HEAD_BYTES} B`);
    assert.ok(saved <= removed * HEAD_BYTES + 4 * 128 * (3 * H + 2 * A * 128 + H));
    assert.equal(cut.stages[0]!.computeMs, full.stages[0]!.computeMs);
    assert.ok(cut.stages[1]!.computeMs < full.stages[1]!.computeMs * 0.9);
    assert.ok(cut.fullPathMs < full.fullPathMs);
  });

  it('in a group, a member whose heads are all pruned from a layer costs nothing for that layer’s attention', () => {
    const members = [
      { agentId: ids[0]!, heads: [0, 1, 2, 3, 4, 5], ffnColumns: range(0, 1536) },
      { agentId: ids[1]!, heads: [6, 7, 8, 9, 10, 11], ffnColumns: range(1536, 3072) },
    ];
    const plan = completePlan({ version: 1, stages: [{ layerStart: 0, layerEnd: 12, host: ids[0]!, members }] });
    // Only heads 0-5 pruned from every layer: member 0 keeps no head anywhere.
    const model: PlannerModel = { ...base, prunedHeads: Array.from({ length: 12 }, () => range(0, 6)) };
    validatePlan(plan, model, new Set(ids));
    const full = predictPlan(plan, cluster, base, opts);
    const cut = predictPlan(plan, cluster, model, opts);
    const memory = (p: typeof full, i: number) => p.devices.find((x) => x.agent === ids[i])!.memoryBytes;
    assert.ok(memory(full, 0) - memory(cut, 0) >= 12 * 6 * HEAD_BYTES - 1);
    assert.equal(memory(cut, 1), memory(full, 1), 'member 1 kept all its heads');
    // Member 0 (the host) now computes no attention; member 1's unchanged share stays on the critical path.
    const busy = (p: typeof full, i: number) => p.devices.find((x) => x.agent === ids[i])!.busyMs;
    assert.ok(busy(cut, 0) < busy(full, 0));
    assert.equal(busy(cut, 1), busy(full, 1));
    assert.ok(cut.latencyMs <= full.latencyMs);
  });

  it('planning the pruned model gives a runnable plan predicted faster than the unpruned one', () => {
    // In the forms both can use: position-parallel groups need keys and values in every layer, and this
    // pruning leaves layers 10 and 11 without a head.
    const forms = { ...opts, groupForms: ['host-gather', 'sequence-parallel'] as const };
    const full = planCluster(base, cluster, forms);
    const cut = planCluster(pruned, cluster, forms);
    validatePlan(cut.plan, pruned, new Set(ids));
    assert.ok(cut.predicted.fits);
    assert.ok(cut.predicted.latencyMs < full.predicted.latencyMs);
    // What the planner optimised is what predictPlan says of its plan.
    const again = predictPlan(cut.plan, cluster, pruned, opts);
    assert.ok(Math.abs(again.latencyMs - cut.predicted.latencyMs) < 1e-6 * cut.predicted.latencyMs);
  });
});

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}
