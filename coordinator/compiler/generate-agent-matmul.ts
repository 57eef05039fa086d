/**
 * Builds device-agent/assets/matmul.onnx, the model the agent's GFLOP/s benchmark runs.
 * The agent ships the committed file instead of calling GraphBuilder so it never loads onnx-proto at run time.
 *
 *   npm run gen:agent-assets            # rewrites the committed asset
 *   node --import tsx --conditions=development coordinator/compiler/generate-agent-matmul.ts OUT.onnx
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GraphBuilder } from './graph-builder.js';

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

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (isMain) {
  const out =
    process.argv[2] ??
    path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'device-agent', 'assets', 'matmul.onnx');
  writeFileSync(out, buildMatmulModel());
}
