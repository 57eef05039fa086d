import assert from 'node:assert/strict';
import path from 'node:path';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { DEVICE_PROFILES } from '../coordinator/planning/devices.js';
import { clusterFromFile, planCluster, readClusterFile, readPlannerModel } from '../coordinator/planning/index.js';
import { ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startSimCluster } from '../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';

const SCENARIOS = [
  '4x-pi4-gigabit.json',
  'pi4-pi5-orin-gigabit.json',
  'pi4-pi5-orin-wifi.json',
  '2x-pi4-orin-exits.json',
];
const TEXTS = readLabelledTsv(FIXTURE_DEV)
  .map((e) => e.sentence)
  .slice(0, 8);

describe('planner plans in the emulated heterogeneous cluster (real processes)', function () {
  this.timeout(300_000);
  let reference: Map<string, ClassifyResult>;

  before(async () => {
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR), {
      threads: 1,
    });
    reference = new Map((await runner.classify(TEXTS)).map((r) => [r.text, r]));
    await runner.release();
  });

  for (const scenario of SCENARIOS) {
    it(`${scenario}: the planner's plan runs on emulated devices and links, and answers as the reference does`, async () => {
      const file = readClusterFile(path.resolve('sim/clusters', scenario));
      const model = readPlannerModel(FIXTURE_DIR);
      const { plan } = planCluster(model, clusterFromFile(file), {
        objective: 'latency',
        seqLen: 32,
        wireDtype: 'float32',
        version: 1,
        exitThreshold: 0,
      });
      const devices = file.devices.map((d) => ({
        name: d.name,
        gflops: d.gflops ?? DEVICE_PROFILES[d.profile as keyof typeof DEVICE_PROFILES].gflops,
        link:
          typeof file.links.default === 'string'
            ? file.links.default
            : `${file.links.default.bandwidthMbps}:${file.links.default.latencyMs}`,
      }));
      const cluster = await startSimCluster({ model: FIXTURE_DIR, agents: devices.length, devices });
      try {
        const applied = await cluster.coordinator.applyPlan(plan);
        assert.deepEqual(
          applied.stages.map((s) => [s.layerStart, s.layerEnd, s.host]),
          plan.stages.map((s) => [s.layerStart, s.layerEnd, s.host]),
        );
        const res = await fetch(`${cluster.url}/v1/classify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: TEXTS, parameters: { details: true } }),
        });
        assert.equal(res.status, 200);
        const body = (await res.json()) as { details: { logits: number[]; exitLayer: number }[] };
        TEXTS.forEach((t, i) => {
          const expected = reference.get(t)!.exits.at(-1)!.logits;
          body.details[i]!.logits.forEach((v, j) =>
            assert.ok(Math.abs(v - expected[j]!) < 1e-4, `${t}: ${v} vs ${expected[j]}`),
          );
        });
        // The emulated devices report the profile speeds the planner planned with.
        for (const d of devices)
          assert.equal(Number(cluster.coordinator.registry.get(d.name)!.capabilities.gflops), d.gflops);
      } finally {
        await cluster.stop();
      }
    });
  }
});
