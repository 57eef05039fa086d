/**
 * Builds device-agent/assets/matmul.onnx and matmul-int8.onnx, the models the agent's GFLOP/s benchmarks run.
 * The agent ships the committed file instead of calling GraphBuilder so it never loads onnx-proto at run time.
 *
 *   npm run gen:agent-assets            # rewrites the committed asset
 *   node --import tsx --conditions=development coordinator/compiler/generate-agent-matmul.ts OUT.onnx
 *   (matmul-int8.onnx is written beside OUT.onnx)
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GraphBuilder } from './graph-builder.js';

/** Side of the int8 benchmark's weight: its B is a constant (prepacked, as in a shard), so its size is fixed. */
export const INT8_MATMUL_SIZE = 256;

/** Y = A·B over float32 [n, n] inputs; n is symbolic so one file serves every benchmark size. */
export function buildMatmulModel(): Uint8Array {
  const g = new GraphBuilder('edgerelay_matmul_benchmark');
  // Names A, B, Y are what device-agent/profile.ts feeds and reads.
  const a = g.input('A', 'float32', ['n', 'n']);
  const b = g.input('B', 'float32', ['n', 'n']);
  g.op('MatMul', [a, b], {}, 'Y');
  g.output('Y', 'float32', ['n', 'n']);
  return g.toBytes('edgerelay device-agent GFLOP/s benchmark: Y = A x B');
}

/**
 * Y = A·B as an int8 shard runs its linear layers: com.microsoft:DynamicQuantizeMatMul with a constant int8
 * B [256, 256] and per-column scales; A float32 [n, 256] is quantized at run time.
 */
export function buildInt8MatmulModel(): Uint8Array {
  const n = INT8_MATMUL_SIZE;
  const g = new GraphBuilder('edgerelay_int8_matmul_benchmark');
  const a = g.input('A', 'float32', ['n', n]);
  let s = 12345;
  const b = Int8Array.from({ length: n * n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 24) - 128 || 1;
  });
  const wq = g.int8Weight('B', b, [n, n]);
  const scale = g.weight('b_scale', new Float32Array(n).fill(1 / 127), [n]);
  g.expose(g.contribOp('DynamicQuantizeMatMul', [a, wq, scale]), 'Y', 'float32', ['n', n]);
  return g.toBytes('edgerelay device-agent int8 GFLOP/s benchmark: Y = A x B with DynamicQuantizeMatMul');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const out =
    process.argv[2] ??
    path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'device-agent', 'assets', 'matmul.onnx');
  writeFileSync(out, buildMatmulModel());
  writeFileSync(path.join(path.dirname(out), 'matmul-int8.onnx'), buildInt8MatmulModel());
}
