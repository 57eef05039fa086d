import assert from 'node:assert/strict';
import path from 'node:path';
import {
  bestSingleDevicePlan,
  clusterFromAgents,
  clusterFromFile,
  costModel,
  evenSplitPlan,
  ExitRatesError,
  linkProfile,
  ModelDoesNotFitError,
  parseClusterFile,
  planCluster,
  predictPlan,
  readClusterFile,
  reachProbabilities,
  validatePlan,
  type ClusterModel,
  type Link,
  type PlannerModel,
  type PlannerOptions,
  type ClusterFile,
} from '../coordinator/planning/index.js';
import { apportion } from '../coordinator/planning/shares.js';
import type { Plan__Output as Plan } from '../proto/control.js';
import { mulberry32 as rng } from '../coordinator/util/prng.js';
import { bertShape } from './helpers/planner-models.js';

const MB = 2 ** 20;

const bert = bertShape;
const BERT_BASE = bert(12, 768, 12);

function options(overrides: Partial<PlannerOptions> = {}): PlannerOptions {
  return { objective: 'latency', seqLen: 128, wireDtype: 'float32', version: 1, exitThreshold: 0.9, ...overrides };
}

function scenario(name: string): { cluster: ClusterModel; file: ClusterFile } {
  const file = readClusterFile(path.resolve('sim/clusters', `${name}.json`));
  return { cluster: clusterFromFile(file), file };
}

function cluster(
  devices: { name: string; gflops: number; memoryMB?: number; link?: ClusterFile['links']['default'] }[],
  link: ClusterFile['links']['default'] = 'gigabit',
): ClusterModel {
  return clusterFromFile(
    parseClusterFile({
      devices: devices.map((d) => ({
        name: d.name,
        gflops: d.gflops,
        memoryMB: d.memoryMB ?? 4096,
        ...(d.link ? { link: d.link } : {}),
      })),
      links: { default: link },
    }),
  );
}

function randomCluster(rand: () => number, n: number): ClusterModel {
  const devices = Array.from({ length: n }, (_, i) => ({
    id: `d${i}`,
    gflops: 2 + rand() * 60,
    memoryBytes: [300, 512, 800, 1024, 2048, 8192][Math.floor(rand() * 6)]! * MB,
  }));
  const links: Link[][] = devices.map(() => devices.map(() => linkProfile('gigabit')));
  devices.forEach((_, i) =>
    devices.forEach((__, j) => {
      if (j <= i) return;
      const r = rand();
      const l: Link =
        r < 0.4
          ? linkProfile('gigabit')
          : r < 0.8
            ? linkProfile('wifi')
            : { bandwidthBytesPerSec: 1e6 + rand() * 2e8, latencyMs: rand() * 10 };
      links[i]![j] = links[j]![i] = l;
    }),
  );
  return clusterFromAgents(devices, (a, b) => links[Number(a.slice(1))]![Number(b.slice(1))]!);
}

/** Every device the plan touches must hold its shards; the plan must tile layers and shares exactly. */
function assertRunnable(plan: Plan, c: ClusterModel, model: PlannerModel, opts: PlannerOptions): void {
  validatePlan(plan, model, new Set(c.devices.map((d) => d.id)));
  const predicted = predictPlan(plan, c, model, opts);
  for (const d of predicted.devices)
    assert.ok(d.memoryBytes <= d.usableBytes, `${d.agent} needs ${d.memoryBytes} B but has ${d.usableBytes} B usable`);
  assert.ok(predicted.fits);
  assert.ok(Number.isFinite(predicted.latencyMs) && predicted.latencyMs > 0);
}

const groupStages = (plan: Plan) => plan.stages.filter((s) => s.members.length > 0);

describe('planner cost model', () => {
  it('counts a bert-base layer at 128 tokens as its matmuls plus small elementwise work (~1.86 GFLOP)', () => {
    const dm = costModel.dims(BERT_BASE, 128);
    const matmuls = 2 * 128 * (4 * 768 * 768 + 2 * 768 * 3072) + 4 * 128 * 128 * 768;
    const whole = costModel.wholeLayerFlops(dm);
    assert.ok(whole > matmuls && whole < matmuls * 1.02, `${whole} vs ${matmuls}`);
  });

  it('splits a layer into partial FLOPs that add back up to the whole, whatever the shares', () => {
    const dm = costModel.dims(BERT_BASE, 64);
    const parts = [
      [5, 1000],
      [4, 1072],
      [3, 1000],
    ] as const;
    const sum = parts.reduce(
      (s, [h, c]) => s + costModel.attentionPartialFlops(dm, h) + costModel.ffnPartialFlops(dm, c),
      0,
    );
    assert.ok(Math.abs(sum - (costModel.attentionPartialFlops(dm, 12) + costModel.ffnPartialFlops(dm, 3072))) < 1);
  });

  it('halves the hidden-state bytes per hop with float16', () => {
    const dm = costModel.dims(BERT_BASE, 128);
    const base = { ...costModel.DEFAULT_COST_PARAMS, seqLen: 128, frameOverheadBytes: 0 };
    const f32 = costModel.partialBytes(dm, { ...base, wireDtype: 'float32' });
    assert.equal(f32, 128 * 768 * 4);
    assert.equal(costModel.partialBytes(dm, { ...base, wireDtype: 'float16' }), f32 / 2);
  });

  it('weights every layer by the chance a request reaches it, from the exit rates', () => {
    const model = bert(4, 64, 4, true);
    assert.deepEqual(reachProbabilities(model), [1, 1, 1, 1]);
    assert.deepEqual(
      reachProbabilities(model, [0.5, 0.25]).map((p) => +p.toFixed(6)),
      [1, 0.5, 0.25, 0.25],
    );
    assert.throws(() => reachProbabilities(model, [0.5, 0.5, 0.5]), ExitRatesError);
    assert.throws(() => reachProbabilities(bert(4, 64, 4), [0.5, 0.5]), ExitRatesError);
    // One rate per layer, as `edgerelay calibrate` writes it, for a model with exits after layers 2 and 4 only.
    const sparse = { ...bert(4, 64, 4), exitLayers: [1, 3] };
    assert.deepEqual(
      reachProbabilities(sparse, [0, 0.7, 0, 0.3]).map((p) => +p.toFixed(6)),
      [1, 1, 0.3, 0.3],
    );
    assert.deepEqual(
      reachProbabilities(sparse, [0.7]).map((p) => +p.toFixed(6)),
      [1, 1, 0.3, 0.3],
    );
    assert.throws(() => reachProbabilities(sparse, [0.2, 0.5, 0, 0.3]), /after layer 1, which has no exit head/);
  });
});

describe('planCluster', () => {
  it('gives nothing to a device too small for any share of a layer, however fast it is', () => {
    const c = cluster([
      { name: 'pi-a', gflops: 11.4 },
      { name: 'pi-b', gflops: 11.4 },
      { name: 'tiny', gflops: 1000, memoryMB: 300 },
    ]);
    for (const objective of ['latency', 'throughput'] as const) {
      const r = planCluster(BERT_BASE, c, options({ objective }));
      assert.ok(!JSON.stringify(r.plan.stages).includes('tiny'), `${objective}: ${JSON.stringify(r.plan.stages)}`);
      assert.ok(
        r.explanation.some((l) => /tiny is unused: .* cannot hold a share of a layer/.test(l)),
        r.explanation.join('\n'),
      );
    }
  });

  it("spreads a model that no single device can hold, within every device's memory", () => {
    const c = cluster(
      [
        { name: 'a', gflops: 30, memoryMB: 700 },
        { name: 'b', gflops: 11, memoryMB: 700 },
        { name: 'c', gflops: 11, memoryMB: 700 },
      ],
      'wifi',
    );
    assert.throws(() => bestSingleDevicePlan(BERT_BASE, c, options()), ModelDoesNotFitError);
    for (const objective of ['latency', 'throughput'] as const) {
      const r = planCluster(BERT_BASE, c, options({ objective }));
      assert.ok(new Set(r.plan.stages.map((s) => s.host)).size >= 2);
      assertRunnable(r.plan, c, BERT_BASE, options({ objective }));
    }
  });

  it('says what to do when the model is too big for the whole cluster', () => {
    const c = cluster([
      { name: 'a', gflops: 30, memoryMB: 400 },
      { name: 'b', gflops: 30, memoryMB: 400 },
    ]);
    assert.throws(
      () => planCluster(BERT_BASE, c, options()),
      (e: Error) =>
        e instanceof ModelDoesNotFitError &&
        /does not fit the cluster/.test(e.message) &&
        /Add devices or memory/.test(e.message),
    );
  });

  it('emits only runnable plans for random clusters of 1-6 devices, links and head counts', function () {
    this.timeout(120_000);
    let planned = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const rand = rng(seed);
      const heads = [4, 12, 16][seed % 3]!;
      const model = bert(1 + Math.floor(rand() * 12), heads * 64, heads, rand() < 0.5);
      const c = randomCluster(rand, 1 + Math.floor(rand() * 6));
      const opts = options({
        objective: rand() < 0.5 ? 'latency' : 'throughput',
        seqLen: [16, 64, 128, 256][Math.floor(rand() * 4)]!,
        wireDtype: rand() < 0.5 ? 'float32' : 'float16',
        ...(model.exitLayers.length > 1 && rand() < 0.5 ? { exitRates: [0.5, 0.2] } : {}),
      });
      try {
        const r = planCluster(model, c, opts);
        assertRunnable(r.plan, c, model, opts);
        assert.ok(r.explanation.length > 0);
        planned++;
      } catch (err) {
        if (!(err instanceof ModelDoesNotFitError))
          throw new Error(`seed ${seed}: ${(err as Error).stack}`, { cause: err });
      }
    }
    assert.ok(planned >= 40, `only ${planned} of 60 random clusters could be planned`);
  });

  it('gives a faster group member at least the heads and columns of a slower one', () => {
    const c = cluster([
      { name: 'slow', gflops: 10 },
      { name: 'mid', gflops: 17 },
      { name: 'fast', gflops: 40 },
    ]);
    // Share logic, not the fitted overheads: without per-run overhead a group of these three pays. Heads and
    // columns are split in these two forms (position-parallel members hold all: position-shares.test.ts).
    const r = planCluster(
      BERT_BASE,
      c,
      options({
        groupForms: ['host-gather', 'sequence-parallel'],
        wireDtype: 'float16',
        cost: {
          opOverheadMs: 0,
          opOverheadMflop: 0,
          opOverheadFlopsPerValue: 0,
          efficiency: 1,
          messageOverheadMs: 0,
          float16CodingMsPerMValue: 0,
        },
      }),
    );
    const groups = groupStages(r.plan);
    assert.ok(groups.length > 0, 'expected a head group over gigabit');
    const share = (id: string) => groups[0]!.members.find((m) => m.agentId === id);
    if (share('fast') && share('slow'))
      assert.ok(
        share('fast')!.ffnColumns.length > 2 * share('slow')!.ffnColumns.length,
        'shares follow speed, not equal',
      );
    const speed = new Map(c.devices.map((d) => [d.id, d.gflops]));
    for (const s of groups) {
      for (const a of s.members) {
        for (const b of s.members) {
          if (speed.get(a.agentId)! <= speed.get(b.agentId)!) continue;
          assert.ok(
            a.heads.length >= b.heads.length && a.ffnColumns.length >= b.ffnColumns.length,
            `${a.agentId} vs ${b.agentId}`,
          );
        }
      }
    }
    for (let seed = 1; seed <= 200; seed++) {
      const rand = rng(seed);
      const w = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => rand() * 50);
      const counts = apportion(Math.floor(rand() * 20), w);
      w.forEach((wi, i) => w.forEach((wj, j) => wi > wj && assert.ok(counts[i]! >= counts[j]!, `seed ${seed}`)));
    }
  });

  it('never predicts a worse latency or throughput after a much faster device joins', function () {
    this.timeout(120_000);
    for (let seed = 100; seed < 130; seed++) {
      const rand = rng(seed);
      const model = bert(2 + Math.floor(rand() * 10), 256, 4, true);
      const small = randomCluster(rand, 1 + Math.floor(rand() * 4));
      const fast = { id: 'fast', gflops: 10 * Math.max(...small.devices.map((d) => d.gflops)), memoryBytes: 2048 * MB };
      const link: Link = rand() < 0.5 ? linkProfile('gigabit') : linkProfile('wifi');
      const big = clusterFromAgents([...small.devices, fast], (a, b) =>
        a === 'fast' || b === 'fast' ? link : small.links[Number(a.slice(1))]![Number(b.slice(1))]!,
      );
      const exitRates = rand() < 0.5 ? [0.6, 0.1] : undefined;
      for (const objective of ['latency', 'throughput'] as const) {
        const opts = options({ objective, seqLen: 64, ...(exitRates ? { exitRates } : {}) });
        let before: ReturnType<typeof planCluster>;
        try {
          before = planCluster(model, small, opts);
        } catch (err) {
          if (err instanceof ModelDoesNotFitError) continue;
          throw err;
        }
        const after = planCluster(model, big, opts);
        if (objective === 'latency')
          assert.ok(after.predicted.latencyMs <= before.predicted.latencyMs * (1 + 1e-9), `seed ${seed}`);
        else assert.ok(after.predicted.throughputRps >= before.predicted.throughputRps * (1 - 1e-9), `seed ${seed}`);
      }
    }
    const { cluster: three } = scenario('pi4-pi5-orin-gigabit');
    const withFast = clusterFromAgents(
      [
        ...three.devices.map((d) => ({ id: d.id, gflops: d.gflops, memoryBytes: d.memoryBytes })),
        { id: 'fast', gflops: 300, memoryBytes: 8192 * MB },
      ],
      () => linkProfile('gigabit'),
    );
    assert.ok(
      planCluster(BERT_BASE, withFast, options()).predicted.latencyMs <
        planCluster(BERT_BASE, three, options()).predicted.latencyMs,
    );
  });

  it('pipelines over slow Wi-Fi but splits heads over gigabit when the split pays', () => {
    const wifi = scenario('pi4-pi5-orin-wifi').cluster;
    for (const objective of ['latency', 'throughput'] as const) {
      const r = planCluster(BERT_BASE, wifi, options({ objective }));
      assert.equal(groupStages(r.plan).length, 0, JSON.stringify(r.plan.stages));
    }
    const pis = scenario('4x-pi4-gigabit').cluster;
    const grouped = planCluster(BERT_BASE, pis, options());
    assert.ok(groupStages(grouped.plan).length > 0);
    // 0.68 predicted, 0.68 measured in the emulated cluster (docs/benchmarks.md).
    assert.ok(grouped.predicted.latencyMs < bestSingleDevicePlan(BERT_BASE, pis, options()).predicted.latencyMs * 0.75);
    assert.ok(grouped.explanation.some((l) => /makes the split pay/.test(l)));
    // Only the devices on the fast links join the group.
    const mixed = cluster([
      { name: 'pi4', gflops: 11.4, link: 'wifi' },
      { name: 'pi5', gflops: 30.2 },
      { name: 'orin', gflops: 28.3 },
    ]);
    const m = planCluster(BERT_BASE, mixed, options());
    assert.deepEqual(
      groupStages(m.plan)
        .flatMap((s) => s.members.map((x) => x.agentId))
        .sort(),
      ['orin', 'pi5'],
    );
  });

  it('puts the fastest device on stage 1 when most requests exit early', () => {
    // Neither device holds the whole model, and Wi-Fi makes groups pay nothing: two pipeline stages.
    const c = cluster(
      [
        { name: 'pi4', gflops: 11.4, memoryMB: 700 },
        { name: 'orin', gflops: 28.3, memoryMB: 700 },
      ],
      'wifi',
    );
    const model = bert(12, 768, 12, true);
    const opts = options({ exitRates: [0.8, 0.05, 0.05] });
    const r = planCluster(model, c, opts);
    assert.equal(r.plan.stages.length, 2);
    assert.equal(r.plan.stages[0]!.host, 'orin');
    assert.ok(r.predicted.stages[1]!.reachProbability < 0.2);
    assert.ok(r.predicted.latencyMs < r.predicted.fullPathMs * 0.5);
    // The same stages with the hosts swapped: both devices have the same memory, so it runs too.
    const swapped: Plan = {
      ...r.plan,
      stages: r.plan.stages.map((s, i) => ({ ...s, host: r.plan.stages[1 - i]!.host })),
    };
    const cost = predictPlan(swapped, c, model, opts);
    assert.ok(cost.fits);
    assert.ok(
      cost.latencyMs > 1.3 * r.predicted.latencyMs,
      `swapped ${cost.latencyMs} ms vs planned ${r.predicted.latencyMs} ms`,
    );
  });

  it('beats the even splits on the heterogeneous scenarios', () => {
    const fixture: PlannerModel = { ...bert(6, 256, 4, true), maxPositions: 128 };
    for (const [name, model] of [
      ['pi4-pi5-orin-gigabit', BERT_BASE],
      ['pi4-pi5-orin-wifi', BERT_BASE],
      ['2x-pi4-orin-exits', fixture],
    ] as const) {
      const { cluster: c, file } = scenario(name);
      const opts = options({
        seqLen: file.seqLen!,
        wireDtype: file.wireDtype!,
        ...(file.exitRates ? { exitRates: file.exitRates } : {}),
      });
      const planned = planCluster(model, c, opts).predicted.latencyMs;
      for (const style of ['pipeline', 'tensor-parallel'] as const) {
        const even = evenSplitPlan(model, c, { ...opts, style }).predicted.latencyMs;
        assert.ok(planned < even * 0.9, `${name}: planner ${planned} ms vs even ${style} ${even} ms`);
      }
      assert.ok(planned <= bestSingleDevicePlan(model, c, opts).predicted.latencyMs + 1e-9);
    }
  });

  it('balances stage times under the throughput objective', () => {
    const c = cluster(
      [
        { name: 'pi4-a', gflops: 11.4 },
        { name: 'pi4-b', gflops: 11.4 },
        { name: 'orin', gflops: 28.3 },
      ],
      'wifi',
    );
    const model = bert(24, 256, 4);
    const t = planCluster(model, c, options({ objective: 'throughput', seqLen: 64 }));
    // Links are resources of their own: the stages' compute is what has to balance.
    const busy = t.predicted.stages.map((s) => s.computeMs);
    assert.equal(busy.length, 3);
    assert.ok(Math.max(...busy) <= 1.2 * Math.min(...busy), busy.join(', '));
    const latencyPlan = planCluster(model, c, options({ seqLen: 64 }));
    assert.ok(t.predicted.throughputRps > 1.5 * latencyPlan.predicted.throughputRps);
    assert.ok(t.predicted.throughputRps > evenSplitPlan(model, c, options({ seqLen: 64 })).predicted.throughputRps);
  });

  it('plans clusters larger than the exact search over their fastest devices, and says so', () => {
    const devices = Array.from({ length: 11 }, (_, i) => ({ name: `n${i}`, gflops: 5 + i, memoryMB: 2048 }));
    const c = cluster(devices);
    const started = performance.now();
    const r = planCluster(BERT_BASE, c, options());
    assert.ok(performance.now() - started < 20_000);
    assertRunnable(r.plan, c, BERT_BASE, options());
    assert.ok(r.explanation.some((l) => /exact search covers at most 8/.test(l)));
    assert.ok(!JSON.stringify(r.plan.stages).includes('"n0"'), 'the slowest devices are left out');
  });
});
