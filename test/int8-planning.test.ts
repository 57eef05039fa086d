import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { convertCheckpoint, writeRandomCheckpoint } from '../coordinator/checkpoint/index.js';
import {
  clusterFromFile,
  parseClusterFile,
  planCluster,
  readPlannerModel,
  type PlannerModel,
  type PlannerOptions,
} from '../coordinator/planning/index.js';
import { dims } from '../coordinator/planning/cost-model.js';
import { int8DeviceGflops, linearFlopShare } from '../coordinator/planning/int8-speed.js';
import { matmulModelPath, measureInt8Gflops, profileDevice } from '../device-agent/profile.js';
import { ShardSession } from '../device-agent/runtime/index.js';
import { emulateCompute } from '../device-agent/emulated-device.js';
import { BERT_BASE } from './helpers/planner-models.js';
import type { GroupForm } from '@edgerelay/proto';

const options: PlannerOptions = {
  objective: 'latency',
  seqLen: 128,
  wireDtype: 'float32',
  version: 1,
  exitThreshold: 0.9,
};

describe('the agent int8 benchmark', function () {
  it('measures positive, finite float-equivalent GFLOP/s and reports it in the capabilities', async function () {
    const g = await measureInt8Gflops({ threads: 1, budgetMs: 100 });
    assert.ok(Number.isFinite(g) && g > 0, `int8 gflops ${g}`);
    const caps = await profileDevice({ threads: 1, benchmarkMs: 100 });
    assert.ok(caps.int8Gflops > 0 && Number.isFinite(caps.int8Gflops));
  });

  it('runs DynamicQuantizeMatMul on the committed asset, which equals what the generator produces now', async function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-matmul-'));
    try {
      await promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          '--conditions=development',
          'coordinator/compiler/generate-agent-matmul.ts',
          path.join(dir, 'matmul.onnx'),
        ],
        { cwd: process.cwd() },
      );
      const committed = readFileSync(matmulModelPath('matmul-int8.onnx'));
      assert.ok(Buffer.from(readFileSync(path.join(dir, 'matmul-int8.onnx'))).equals(committed));
      const session = await ShardSession.create(committed, { threads: 1 });
      // A row of ones times B·(1/127) is each column's sum / 127: finite, and not all equal.
      const { Y } = await session.run({ A: { dtype: 'float32', dims: [1, 256], data: new Float32Array(256).fill(1) } });
      await session.release();
      assert.deepEqual(Y!.dims, [1, 256]);
      assert.ok(new Set(Array.from(Y!.data as Float32Array, (v) => v.toFixed(3))).size > 10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an emulated device', () => {
  it("keeps this machine's int8 / float32 speed ratio at its emulated speed", async () => {
    const measured = await profileDevice({ threads: 1, benchmarkMs: 50 });
    const m = { ...measured, gflops: 40, int8Gflops: 100 };
    const { capabilities } = await emulateCompute({ gflops: 8, referenceGflops: 40 }, m, 1);
    assert.equal(capabilities.gflops, 8);
    assert.equal(capabilities.int8Gflops, 20);
  });
});

describe('the cost model for int8 models', () => {
  it('counts most of a bert-base layer as int8 matmul work and blends the two speeds by it', () => {
    const dm = dims(BERT_BASE, 128);
    const share = linearFlopShare(dm);
    assert.ok(share > 0.9 && share < 0.98, `share ${share}`);
    const device = { id: 'a', gflops: 10, int8Gflops: 30, memoryBytes: 0 };
    // Time per FLOP adds: share / 30 + (1 - share) / 10.
    assert.ok(Math.abs(int8DeviceGflops(device, dm) - 1 / (share / 30 + (1 - share) / 10)) < 1e-9);
    assert.equal(int8DeviceGflops({ id: 'b', gflops: 10, memoryBytes: 0 }, dm), 10);
  });

  it('predicts an int8 model faster on devices with an int8 figure, and unchanged without one', () => {
    const cluster = (int8Gflops?: number) =>
      clusterFromFile(
        parseClusterFile({
          devices: ['a', 'b'].map((name) => ({ name, gflops: 10, memoryMB: 4096, ...(int8Gflops && { int8Gflops }) })),
          links: { default: 'gigabit' },
        }),
      );
    const int8Model: PlannerModel = { ...BERT_BASE, weightDtype: 'int8' };
    const float = planCluster(BERT_BASE, cluster(30), options).predicted.latencyMs;
    const int8 = planCluster(int8Model, cluster(30), options).predicted.latencyMs;
    // Position-parallel shards of int8 weights keep the row-major layout (slower on few rows than float32's
    // feature-major one): this is about device speed, so in the forms whose runs both dtypes lay out alike.
    const alike = { ...options, groupForms: ['host-gather', 'sequence-parallel'] as GroupForm[] };
    const unmeasured = planCluster(int8Model, cluster(), alike).predicted.latencyMs;
    assert.ok(int8 < float / 2, `int8 ${int8} ms vs float ${float} ms`);
    assert.equal(unmeasured, planCluster(BERT_BASE, cluster(), alike).predicted.latencyMs);
    // A float model ignores the int8 figure.
    assert.equal(planCluster(BERT_BASE, cluster(), options).predicted.latencyMs, float);
  });

  it("counts an int8 model's layers at about a quarter of their float32 bytes, its embeddings unchanged", () => {
    const c = clusterFromFile(
      parseClusterFile({ devices: [{ name: 'a', gflops: 10, memoryMB: 4096 }], links: { default: 'gigabit' } }),
    );
    const memory = (m: PlannerModel) => planCluster(m, c, options).predicted.devices[0]!.memoryBytes;
    const float = memory(BERT_BASE);
    const int8 = memory({ ...BERT_BASE, weightDtype: 'int8' });
    // bert-base: 12 layers of 28.3 MB and 94 MB of embeddings in float32; layers shrink 3.85x.
    const layers = 12 * 4 * (4 * 768 * 768 + 2 * 768 * 3072);
    assert.ok(Math.abs(float - int8 - layers * 0.74) < 0.02 * layers, `float ${float} int8 ${int8}`);
  });

  it('reads the int8 marker from config.json', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-int8-plan-'));
    try {
      await writeRandomCheckpoint(path.join(dir, 'f'), { layers: 2, hidden: 32, heads: 4, vocabSize: 50, seed: 1 });
      await convertCheckpoint(path.join(dir, 'f'), path.join(dir, 'q'), 'int8');
      assert.equal(readPlannerModel(path.join(dir, 'f')).weightDtype, undefined);
      assert.equal(readPlannerModel(path.join(dir, 'q')).weightDtype, 'int8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
