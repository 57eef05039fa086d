import assert from 'node:assert/strict';
import {
  clusterFromFile,
  parseClusterFile,
  planCluster,
  predictPlan,
  type PlannerOptions,
} from '../coordinator/planning/index.js';
import { layerTokens } from '../coordinator/planning/token-scale.js';
import { DEFAULT_COST_PARAMS } from '../coordinator/planning/cost-model.js';
import { LINK_PROFILES } from '../coordinator/planning/devices.js';
import { layerFlops } from '../coordinator/pruning/index.js';
import { BERT_BASE } from './helpers/planner-models.js';

const KEEP = [1, 1, 1, 0.8, 0.8, 0.6, 0.6, 0.5, 0.5, 0.4, 0.4, 0.3];

function options(overrides: Partial<PlannerOptions> = {}): PlannerOptions {
  return { objective: 'latency', seqLen: 128, wireDtype: 'float32', version: 1, exitThreshold: 0, ...overrides };
}

const cluster = clusterFromFile(
  parseClusterFile({
    devices: ['a', 'b', 'c'].map((name) => ({ name, gflops: 20, memoryMB: 600 })),
    links: { default: 'wifi' },
  }),
);

describe('the planner under token pruning', () => {
  it('costs each layer at the tokens it runs on and each hop at the rows it carries', () => {
    const plain = planCluster(BERT_BASE, cluster, options());
    const full = predictPlan(plain.plan, cluster, BERT_BASE, options());
    const pruned = predictPlan(plain.plan, cluster, BERT_BASE, options({ tokenKeep: KEEP }));
    assert.deepEqual(
      layerTokens(12, { seqLen: 128, tokenKeep: KEEP }),
      [128, 128, 128, 103, 103, 77, 77, 64, 64, 52, 52, 39],
    );
    assert.ok(plain.plan.stages.length > 1, 'the comparison needs a stage boundary');
    // Compute of each stage shrinks by its layers' FLOP ratio, at least roughly (per-run overheads stay).
    pruned.stages.forEach((s, i) => {
      const [a, b] = s.layers;
      const tokens = layerTokens(12, { seqLen: 128, tokenKeep: KEEP }).slice(a, b);
      const ratio = tokens.reduce((x, n) => x + layerFlops(BERT_BASE, n), 0) / ((b - a) * layerFlops(BERT_BASE, 128));
      const measured = s.computeMs / full.stages[i]!.computeMs;
      assert.ok(Math.abs(measured - ratio) < 0.1, `stage ${i}: ${measured} vs ${ratio}`);
      // The hop into a later stage carries only the kept rows: past what any message costs (the link's latency and
      // the per-message overhead), its time scales with them.
      if (i > 0) {
        const fixed = LINK_PROFILES.wifi.latencyMs + DEFAULT_COST_PARAMS.messageOverheadMs;
        const scaled = (s.transferMs - fixed) / (full.stages[i]!.transferMs - fixed);
        assert.ok(
          Math.abs(scaled - tokens[0]! / 128) < 0.02,
          `stage ${i}: ${scaled} of the bytes, ${tokens[0]} of 128 rows`,
        );
      }
    });
    assert.ok(pruned.latencyMs < full.latencyMs);
  });

  it('plans with the pruned costs, and an all-ones schedule plans exactly as no pruning', () => {
    const ones = planCluster(BERT_BASE, cluster, options({ tokenKeep: new Array(12).fill(1) }));
    const plain = planCluster(BERT_BASE, cluster, options());
    assert.deepEqual(ones.plan, plain.plan);
    const pruned = planCluster(BERT_BASE, cluster, options({ tokenKeep: KEEP }));
    assert.ok(pruned.predicted.latencyMs < plain.predicted.latencyMs);
  });
});
