/**
 * Linear layers of few-row runs in feature-major layout: y^T = W · x^T (+ b) on x^T [batch, in, n], the weight as
 * the left operand. ONNX Runtime's float GEMM costs up to 1.5× more per FLOP when the activations are the left
 * operand with only a few dozen rows (a position-parallel member's slice of the sequence); with the weight on the
 * left the same products run at the whole-sequence rate (docs/sequence-parallel.md, "Feature-major runs").
 * float32 weights only: int8 weights keep com.microsoft:DynamicQuantizeMatMul, whose constant operand is the right.
 */
import type { EncoderLayerWeights, Tensor } from '../checkpoint/types.js';
import type { GraphBuilder } from './graph-builder.js';
import type { LinearSlice } from './linear.js';
import { range, scaled, selectEntries } from './weight-slices.js';

/** [batch, a, b] → [batch, b, a]: between the row-major wire layout and the feature-major one. */
export function swapLastTwo(g: GraphBuilder, x: string): string {
  return g.op('Transpose', [x], { perm: { ints: [0, 2, 1] } });
}

/** Whether a layer's linear weights are float32 (feature-major runs), not int8. */
export function featureMajorFits(w: EncoderLayerWeights): boolean {
  return ![w.query, w.key, w.value, w.attentionOutput, w.intermediate, w.output].some((l) => l.weight.int8);
}

/** W[rows, cols] of an [out, in] weight, kept in that layout (MatMul's left operand). */
function selectBlock(weight: Tensor, rows: number[], cols: number[]): Float32Array {
  const inDim = weight.shape[1]!;
  const result = new Float32Array(rows.length * cols.length);
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r]! * inDim;
    for (let c = 0; c < cols.length; c++) result[r * cols.length + c] = weight.data[src + cols[c]!]!;
  }
  return result;
}

/**
 * x^T [batch, in, n] → (x · W[rows, cols]^T + b[rows])^T [batch, rows, n]: emitLinear's product in feature-major
 * layout, with the same weight slices and factor. float32 weights only (featureMajorFits).
 */
export function emitLinearFeatureMajor(
  g: GraphBuilder,
  xT: string,
  weight: Tensor,
  bias: Tensor | undefined,
  prefix: string,
  slice: LinearSlice = {},
): string {
  if (weight.int8) throw new Error(`${prefix}: int8 weights have no feature-major form; lay the shard out row-major`);
  const [outDim, inDim] = weight.shape as [number, number];
  const rows = slice.rows ?? range(0, outDim);
  const cols = slice.cols ?? range(0, inDim);
  const factor = slice.factor ?? 1;
  const data = selectBlock(weight, rows, cols);
  const w = g.weight(`${prefix}_wt`, factor !== 1 ? scaled(data, factor) : data, [rows.length, cols.length]);
  const product = g.op('MatMul', [w, xT]);
  if (!bias) return product;
  const b = scaled(selectEntries(bias, rows), factor);
  return g.op('Add', [product, g.weight(`${prefix}_bt`, b, [rows.length, 1])]);
}
