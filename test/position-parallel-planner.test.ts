import assert from 'node:assert/strict';
import path from 'node:path';
import {
  clusterFromFile,
  parseClusterFile,
  planCluster,
  predictPlan,
  readClusterFile,
  repairPlan,
  validatePlan,
  type ClusterModel,
  type PlannerOptions,
} from '../coordinator/planning/index.js';
import type { ClusterFile } from '../coordinator/planning/index.js';
import { costContext, exitHeadMs } from '../coordinator/planning/stage-cost.js';
import { costParams } from '../coordinator/planning/planner-types.js';
import { positionLayerTiming } from '../coordinator/planning/position-cost.js';
import { seqLayerTiming } from '../coordinator/planning/seq-cost.js';
import { buildCandidates } from '../coordinator/planning/candidates.js';
import type { Plan__Output as Plan } from '../proto/control.js';
import { BERT_BASE, bertBaseStagePlan } from './helpers/planner-models.js';

function options(overrides: Partial<PlannerOptions> = {}): PlannerOptions {
  return { objective: 'latency', seqLen: 128, wireDtype: 'float32', version: 1, exitThreshold: 0.9, ...overrides };
}

function cluster(devices: ClusterFile['devices'], links: ClusterFile['links']): ClusterModel {
  return clusterFromFile(parseClusterFile({ devices, links }));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The plan's groups in another form (position-parallel members hold every head and column). */
function asForm(plan: Plan, form: string): Plan {
  return {
    ...plan,
    stages: plan.stages.map((s) =>
      s.members.length === 0
        ? s
        : form === 'position-parallel'
          ? {
              ...s,
              form,
              members: s.members.map((m) => ({ ...m, heads: range(12), ffnColumns: range(3072) })),
            }
          : { ...s, form },
    ),
  };
}

/** Four equal devices with free compute and free messages: a layer's time is its bytes on the links. */
function networkOnly() {
  const c = cluster(
    ['a', 'b', 'c', 'd'].map((name) => ({ name, gflops: 1e9, memoryMB: 4096 })),
    { default: { bandwidthMbps: 100, latencyMs: 0 } },
  );
  const ctx = costContext({ ...BERT_BASE, numHeads: 4, intermediateSize: 1024, hiddenSize: 256 }, c, {
    ...costParams(options({ seqLen: 128 })),
    opOverheadMs: 0,
    frameOverheadBytes: 0,
    messageOverheadMs: 0,
    opOverheadMflop: 0,
    opOverheadFlopsPerValue: 0,
  });
  return { ctx, hiddenMs: (128 * 256 * 4 * 1000) / (100e6 / 8) };
}

describe('planner: position-parallel groups', () => {
  it('on four equal links a position-parallel layer moves 2·(N−1)/N hidden states per link, in one exchange', () => {
    const { ctx, hiddenMs } = networkOnly();
    const position = positionLayerTiming(
      ctx,
      [0, 1, 2, 3].map((device) => ({ device })),
    ).totalMs;
    // Each member sends its 32 positions' keys and values (2 × 1/4 of a hidden state) to three others, one after
    // another, and receives three such blocks: 3 × 1/2 = 1.5 hidden-state times.
    assert.ok(Math.abs(position - 1.5 * hiddenMs) < 0.01 * position, `${position} vs ${1.5 * hiddenMs}`);
    const seq = seqLayerTiming(
      ctx,
      [0, 1, 2, 3].map((device) => ({ device, heads: 1, columns: 256 })),
    ).totalMs;
    assert.ok(position < seq / 2, `${position} vs sequence-parallel ${seq}`);
  });

  it('the planner chooses by its model: whichever form it picks on 4 × Pi 4 gigabit, the other two forms of the same group are predicted slower', () => {
    const c = clusterFromFile(readClusterFile(path.resolve('sim/clusters/4x-pi4-gigabit.json')));
    const opts = options();
    const { plan, predicted } = planCluster(BERT_BASE, c, opts);
    const group = plan.stages.find((s) => s.members.length > 0);
    assert.ok(group, JSON.stringify(plan.stages));
    validatePlan(plan, BERT_BASE, new Set(c.devices.map((d) => d.id)));
    for (const other of ['host-gather', 'sequence-parallel', 'position-parallel'].filter((f) => f !== group.form)) {
      // A host-gather or sequence-parallel group needs a split of the heads: take the planner's own for that form.
      const alt =
        other === 'position-parallel'
          ? asForm(plan, other)
          : planCluster(BERT_BASE, c, { ...opts, groupForms: [other as 'host-gather'] }).plan;
      const altMs = predictPlan(alt, c, BERT_BASE, opts).latencyMs;
      assert.ok(altMs >= predicted.latencyMs - 1e-6, `${other}: ${altMs} vs ${group.form} ${predicted.latencyMs}`);
    }
  });

  it('is not offered where every member cannot hold whole layers: devices with room for a third of the model split the weights', () => {
    // bert-base's layers take about 340 MB in float32; 600 MB devices keep 20% and 256 MB for themselves.
    const c = cluster(
      ['a', 'b', 'c', 'd'].map((name) => ({ name, gflops: 11.4, memoryMB: 600 })),
      { default: 'gigabit' },
    );
    const { plan, predicted } = planCluster(BERT_BASE, c, options());
    assert.ok(
      predicted.devices.every((d) => d.fits),
      JSON.stringify(predicted.devices),
    );
    assert.ok(
      plan.stages.every((s) => s.form !== 'position-parallel'),
      JSON.stringify(plan.stages.map((s) => s.form)),
    );
    assert.ok(
      plan.stages.some((s) => s.members.length > 0),
      'the model does not fit one device: it needs a group',
    );
  });

  it('is not offered for parameter-shared (ALBERT) models, nor for a checkpoint with a layer that lost every head', () => {
    const c = clusterFromFile(readClusterFile(path.resolve('sim/clusters/4x-pi4-gigabit.json')));
    const ctx = (model: typeof BERT_BASE) => costContext(model, c, costParams(options()));
    const forms = (model: typeof BERT_BASE) =>
      new Set(buildCandidates(ctx(model), [0, 1, 2, 3], 4).map((cand) => cand.form ?? 'host-gather'));
    assert.ok(forms(BERT_BASE).has('position-parallel'));
    assert.ok(!forms({ ...BERT_BASE, layerGroups: range(12).map(() => 0) }).has('position-parallel'));
    const pruned = { ...BERT_BASE, prunedHeads: range(12).map((l) => (l === 3 ? [0, 1] : [])) };
    assert.ok(forms(pruned).has('position-parallel'), 'a layer with heads left has keys and values to exchange');
    const headless = { ...BERT_BASE, prunedHeads: range(12).map((l) => (l === 3 ? range(12) : [])) };
    assert.ok(!forms(headless).has('position-parallel'));
  });

  it('a plan file whose position-parallel member lacks a head, or whose host is no member, is refused', () => {
    const c = clusterFromFile(readClusterFile(path.resolve('sim/clusters/4x-pi4-gigabit.json')));
    const agents = new Set(c.devices.map((d) => d.id));
    const whole = (agentId: string) => ({ agentId, heads: range(12), ffnColumns: range(3072) });
    const plan = (stage: Partial<Plan['stages'][number]>) => bertBaseStagePlan('pi4-a', stage);
    validatePlan(plan({ members: [whole('pi4-a'), whole('pi4-b')] }), BERT_BASE, agents);
    assert.throws(
      () =>
        validatePlan(plan({ members: [whole('pi4-a'), { ...whole('pi4-b'), heads: range(11) }] }), BERT_BASE, agents),
      /member "pi4-b" must hold heads 0\.\.11/,
    );
    assert.throws(
      () => validatePlan(plan({ members: [whole('pi4-b'), whole('pi4-c')] }), BERT_BASE, agents),
      /host "pi4-a" must be one of its members/,
    );
  });

  it('a position-parallel host’s exit heads cost a layer only what the wait for keys and values does not hide', () => {
    const c = clusterFromFile(readClusterFile(path.resolve('sim/clusters/4x-pi4-gigabit.json')));
    const withExits = { ...BERT_BASE, exitLayers: range(12) };
    const opts = options({ groupForms: ['position-parallel'] });
    const { plan } = planCluster(BERT_BASE, c, opts);
    assert.equal(plan.stages.length, 1);
    assert.equal(plan.stages[0]!.form, 'position-parallel');
    const ctx = costContext(BERT_BASE, c, costParams(opts));
    const slack = positionLayerTiming(
      ctx,
      plan.stages[0]!.members.map((m) => ({ device: c.devices.findIndex((d) => d.id === m.agentId) })),
    ).hostSlackMs!;
    const head = exitHeadMs(ctx, 0);
    assert.ok(slack > 0 && head > 0);
    const added = predictPlan(plan, c, withExits, opts).latencyMs - predictPlan(plan, c, BERT_BASE, opts).latencyMs;
    // Eleven heads before the last layer, each hidden up to the slack; the same heads in host-gather form add fully.
    assert.ok(Math.abs(added - 11 * Math.max(0, head - slack)) < 1e-6, `added ${added} ms`);
    const gather = asForm(plan, 'host-gather');
    const gatherAdded =
      predictPlan(gather, c, withExits, opts).latencyMs - predictPlan(gather, c, BERT_BASE, opts).latencyMs;
    assert.ok(Math.abs(gatherAdded - 11 * head) < 1e-6, `host-gather added ${gatherAdded} ms`);
  });

  it('repair drops a dead member and keeps whole layers on the survivors', () => {
    const c = clusterFromFile(readClusterFile(path.resolve('sim/clusters/4x-pi4-gigabit.json')));
    const { plan } = planCluster(BERT_BASE, c, options({ groupForms: ['position-parallel'] }));
    const group = plan.stages.find((s) => s.members.length > 2)!;
    const victim = group.members.find((m) => m.agentId !== group.host)!.agentId;
    const repaired = repairPlan(plan, new Set([victim]), 2)!;
    const stage = repaired.stages.find((s) => s.members.length > 0)!;
    assert.equal(stage.form, 'position-parallel');
    assert.ok(!stage.members.some((m) => m.agentId === victim));
    for (const m of stage.members) assert.equal(m.heads.length, 12);
    validatePlan(repaired, BERT_BASE, new Set(c.devices.map((d) => d.id).filter((id) => id !== victim)));
  });
});
