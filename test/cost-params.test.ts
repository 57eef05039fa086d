import assert from 'node:assert/strict';
import path from 'node:path';
import {
  bestSingleDevicePlan,
  clusterFromFile,
  evenSplitPlan,
  predictPlan,
  readClusterFile,
  type CostOptions,
} from '../coordinator/planning/index.js';
import { BERT_BASE } from './helpers/planner-models.js';

const cluster = clusterFromFile(readClusterFile(path.resolve('sim/clusters/4x-pi4-gigabit.json')));
const base = { seqLen: 128, wireDtype: 'float32', version: 1, exitThreshold: 0 } as const;
const predict = (plan: Parameters<typeof predictPlan>[0], cost: CostOptions['cost'] = {}) =>
  predictPlan(plan, cluster, BERT_BASE, { ...base, cost }).latencyMs;

describe("cost model: the per-message overhead, the fit's new parameter", () => {
  it('costs a single device nothing and a pipeline exactly one overhead per hop', () => {
    const single = bestSingleDevicePlan(BERT_BASE, cluster, base).plan;
    assert.equal(predict(single, { messageOverheadMs: 7 }), predict(single, { messageOverheadMs: 0 }));
    const pipeline = evenSplitPlan(BERT_BASE, cluster, { ...base, style: 'pipeline' }).plan;
    const hops = pipeline.stages.length - 1;
    assert.ok(hops >= 1);
    const extra = predict(pipeline, { messageOverheadMs: 7 }) - predict(pipeline, { messageOverheadMs: 0 });
    assert.ok(Math.abs(extra - 7 * hops) < 1e-6, `${extra} ms for ${hops} hops`);
  });

  it('costs a group layer at least one message per exchange on its critical path, in either form', () => {
    const tp = evenSplitPlan(BERT_BASE, cluster, { ...base, style: 'tensor-parallel' }).plan;
    const seq = { ...tp, stages: tp.stages.map((s) => ({ ...s, form: 'sequence-parallel' })) };
    for (const plan of [tp, seq]) {
      const extra = predict(plan, { messageOverheadMs: 1 }) - predict(plan, { messageOverheadMs: 0 });
      // Four exchanges per layer (scatter and gather of two parts, or two reduce-scatters and two all-gathers).
      assert.ok(extra >= 4 * BERT_BASE.numLayers - 1e-6, `${plan.stages[0]!.form}: ${extra} ms`);
    }
  });
});
