import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Capabilities } from '../proto/generated/edgerelay/control/Capabilities.js';
import { loadMatmulModel, matmulModelPath, measureGflops, profileDevice } from '../device-agent/profile.js';
import { ShardSession } from '../device-agent/runtime/session.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function jsMatmul(a: Float32Array, b: Float32Array, n: number): Float64Array {
  const y = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      for (let j = 0; j < n; j++) y[i * n + j]! += aik * b[k * n + j]!;
    }
  return y;
}

function random(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
}

describe('device profile', function () {
  it("reports plausible cores, memory, load, GFLOP/s and this process's platform", async function () {
    const caps = await profileDevice({ threads: 1, benchmarkMs: 200 });
    // The type the RegisterRequest carries must accept it as is.
    const message: Capabilities = caps;
    assert.ok(message);

    assert.ok(Number.isInteger(caps.cores) && caps.cores >= 1, `cores ${caps.cores}`);
    assert.ok([os.availableParallelism(), os.cpus().length].includes(caps.cores), `cores ${caps.cores}`);
    assert.ok(caps.cpuModel.length > 0);
    assert.ok(
      caps.memoryTotalBytes > caps.memoryFreeBytes,
      `total ${caps.memoryTotalBytes} free ${caps.memoryFreeBytes}`,
    );
    assert.ok(caps.memoryFreeBytes > 0);
    assert.ok(Number.isFinite(caps.loadAverage) && caps.loadAverage >= 0);
    assert.ok(Number.isFinite(caps.gflops) && caps.gflops > 0.1, `gflops ${caps.gflops}`);
    assert.equal(caps.threads, 1);
    assert.equal(caps.platform, process.platform);
    assert.equal(caps.arch, process.arch);
  });

  it('reports threads 0 as one thread per core', async function () {
    const caps = await profileDevice({ threads: 0, benchmarkMs: 50 });
    assert.equal(caps.threads, caps.cores);
  });

  it('rejects a negative or fractional thread count', async function () {
    await assert.rejects(profileDevice({ threads: -1 }), RangeError);
    await assert.rejects(measureGflops({ threads: 1.5 }), RangeError);
  });

  it('measures positive, finite GFLOP/s with 1 and with 2 threads', async function () {
    const one = await measureGflops({ threads: 1, budgetMs: 300 });
    const two = await measureGflops({ threads: 2, budgetMs: 300 });
    for (const g of [one, two]) assert.ok(Number.isFinite(g) && g > 0, `gflops ${g}`);
    // No speed-up is asserted (shared CI cores are noisy), only that neither figure is off by orders of magnitude.
    assert.ok(two / one > 0.05 && two / one < 20, `1 thread ${one}, 2 threads ${two}`);
  });

  it('still yields a figure when the budget is shorter than one MatMul', async function () {
    const g = await measureGflops({ threads: 1, size: 64, budgetMs: 0.001 });
    assert.ok(Number.isFinite(g) && g > 0);
  });
});

describe('matmul benchmark asset', function () {
  it('is committed under device-agent/assets and is tiny', function () {
    assert.equal(matmulModelPath(), path.join(root, 'device-agent', 'assets', 'matmul.onnx'));
    const bytes = loadMatmulModel();
    assert.ok(bytes.byteLength > 0 && bytes.byteLength < 1024, `${bytes.byteLength} bytes`);
  });

  it('equals what the generator produces now (run "npm run gen:agent-assets" if not)', async function () {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-matmul-'));
    try {
      const out = path.join(dir, 'matmul.onnx');
      await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--conditions=development', 'coordinator/compiler/generate-agent-matmul.ts', out],
        { cwd: root },
      );
      assert.ok(Buffer.from(readFileSync(out)).equals(Buffer.from(loadMatmulModel())));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('computes A·B for random square inputs of any size', async function () {
    const session = await ShardSession.create(loadMatmulModel(), { threads: 1 });
    try {
      assert.deepEqual([...session.inputNames].sort(), ['A', 'B']);
      assert.deepEqual(session.outputNames, ['Y']);
      for (const n of [1, 5, 17]) {
        const a = random(n * n);
        const b = random(n * n);
        const { Y } = await session.run({
          A: { dtype: 'float32', dims: [n, n], data: a },
          B: { dtype: 'float32', dims: [n, n], data: b },
        });
        assert.ok(Y && Y.dtype === 'float32');
        assert.deepEqual(Y.dims, [n, n]);
        const expected = jsMatmul(a, b, n);
        for (let i = 0; i < expected.length; i++) {
          assert.ok(Math.abs(Y.data[i]! - expected[i]!) < 1e-4, `n=${n} element ${i}: ${Y.data[i]} vs ${expected[i]}`);
        }
      }
    } finally {
      await session.release();
    }
  });
});
