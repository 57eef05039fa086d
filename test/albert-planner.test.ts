import assert from 'node:assert/strict';
import path from 'node:path';
import {
  clusterFromFile,
  parseClusterFile,
  planCluster,
  predictPlan,
  readPlannerModel,
  validatePlan,
  type ClusterModel,
  type PlannerModel,
} from '../coordinator/planning/index.js';
import { completePlan } from '../coordinator/planning/index.js';

const ALBERT = readPlannerModel(path.resolve(process.cwd(), '../shared/fixtures/sst2-albert-6L-256H'));
const BERT = readPlannerModel(path.resolve(process.cwd(), '../shared/fixtures/sst2-bert-6L-256H'));
const OPTS = { seqLen: 64, wireDtype: 'float32' as const };

function cluster(memoryMB: number[]): ClusterModel {
  return clusterFromFile(
    parseClusterFile({
      devices: memoryMB.map((m, i) => ({ name: `agent-${i}`, gflops: 10, memoryMB: m })),
      links: { default: 'gigabit' },
    }),
  );
}

function pipeline(model: PlannerModel, cuts: number[][]) {
  return completePlan({
    version: 1,
    modelId: model.modelId,
    stages: cuts.map(([a, b], i) => ({ layerStart: a, layerEnd: b, host: `agent-${i}`, members: [] })),
    exitLayers: model.exitLayers,
    numLayers: model.numLayers,
    numLabels: model.numLabels,
    hiddenSize: model.hiddenSize,
    wireDtype: 'float32',
  });
}

describe('planner: parameter-shared models and ODE steps', function () {
  it('reads the ALBERT fixture as one shared layer group with factorised embeddings', function () {
    assert.deepEqual(ALBERT.layerGroups, [0, 0, 0, 0, 0, 0]);
    assert.equal(ALBERT.embeddingSize, 128);
    assert.equal(BERT.layerGroups, undefined);
  });

  it('counts the shared layer once per device: 5 slots of it need under half what 5 BERT layers need', function () {
    const c = cluster([4096, 4096, 4096]);
    const whole = predictPlan(pipeline(ALBERT, [[0, 6]]), c, ALBERT, OPTS).devices[0]!.memoryBytes;
    const split = predictPlan(
      pipeline(ALBERT, [
        [0, 1],
        [1, 6],
      ]),
      c,
      ALBERT,
      OPTS,
    ).devices;
    const bert = predictPlan(pipeline(BERT, [[0, 6]]), c, BERT, OPTS).devices[0]!.memoryBytes;
    const bertTwo = predictPlan(
      pipeline(BERT, [
        [0, 1],
        [1, 6],
      ]),
      c,
      BERT,
      OPTS,
    ).devices;
    // ALBERT's second device holds 5 slots of the one group: one layer's weights and session (plus 5 exit heads),
    // where the BERT's holds 5 layers; with per-session overheads that is under half.
    assert.ok(
      split[1]!.memoryBytes < bertTwo[1]!.memoryBytes / 2,
      `${split[1]!.memoryBytes} vs ${bertTwo[1]!.memoryBytes}`,
    );
    assert.ok(whole < bert / 2, `ALBERT ${whole} vs BERT ${bert}`);
  });

  it('fits a whole ALBERT on a device too small for the BERT of the same shape', function () {
    // usable = 0.8 × memory − 256 MiB; the BERT fixture's weights are ~46 MB, the ALBERT's ~19 MB
    const small = cluster([360]);
    const a = predictPlan(pipeline(ALBERT, [[0, 6]]), small, ALBERT, OPTS);
    const b = predictPlan(pipeline(BERT, [[0, 6]]), small, BERT, OPTS);
    assert.equal(a.fits, true, `ALBERT needs ${a.devices[0]!.memoryBytes}, usable ${a.devices[0]!.usableBytes}`);
    assert.equal(b.fits, false, `BERT needs ${b.devices[0]!.memoryBytes}, usable ${b.devices[0]!.usableBytes}`);
    const planned = planCluster(ALBERT, small, { ...OPTS, objective: 'latency', version: 1, exitThreshold: 0 });
    validatePlan(planned.plan, ALBERT, new Set(['agent-0']));
    assert.equal(planned.predicted.fits, true);
  });

  it('costs K applications: each slot without a step saves one layer application and its exit head', function () {
    const c = cluster([4096, 4096, 4096]);
    const plan = pipeline(ALBERT, [
      [0, 2],
      [2, 4],
      [4, 6],
    ]);
    const compute = (K: number) =>
      predictPlan(plan, c, { ...ALBERT, odeSteps: K }, OPTS).stages.reduce((s, st) => s + st.computeMs, 0);
    const [six, three, two] = [compute(6), compute(3), compute(2)];
    // Each skipped slot saves one layer application and its exit head: 3 slots at K = 3, 4 at K = 2.
    const perSlot = (six - three) / 3;
    assert.ok(perSlot > 0);
    assert.ok(Math.abs(six - two - 4 * perSlot) < 1e-9 * six, `K=2 saves ${six - two}, expected ${4 * perSlot}`);
    // What K does not change (embeddings, hops, each run's fixed cost) keeps K = 3 above half of K = 6.
    assert.ok(three < 0.65 * six, `K=3 ${three} vs K=6 ${six}`);
  });
});
