/**
 * One linear layer y = x·W[rows, cols]ᵀ (+ b[rows]), optionally scaled by `factor`, in float32 or int8.
 *
 * float weights: MatMul (+ Add), as every shard has always been built.
 * int8 weights (Tensor.int8, from `edgerelay convert --dtype int8`): ONNX Runtime's
 * com.microsoft:DynamicQuantizeMatMul, which quantizes x to uint8 per tensor at run time and multiplies it by
 * the int8 B [K, N] with one float scale per column of B (b_scale [N], = the weight's per-output-channel scale),
 * bias folded in. A shard's rows/cols are sliced from the whole-tensor values and scales, so head and column
 * shards of one layer agree with the whole layer.
 */
import type { Int8Weight, Tensor } from '../checkpoint/types.js';
import type { GraphBuilder } from './graph-builder.js';
import { range, scaled, selectEntries, transposeSelect } from './weight-slices.js';

export interface LinearSlice {
  /** Output rows (of the [out, in] weight) kept; all when omitted. */
  rows?: number[];
  /** Input columns kept; all when omitted. */
  cols?: number[];
  /** Multiplies weight and bias (the query's folded 1/sqrt(d)). */
  factor?: number;
}

/** x·W[rows, cols]ᵀ + bias[rows] (no bias when `bias` is undefined); weight names are `${prefix}_w`, `${prefix}_b`. */
export function emitLinear(
  g: GraphBuilder,
  x: string,
  weight: Tensor,
  bias: Tensor | undefined,
  prefix: string,
  slice: LinearSlice = {},
): string {
  const [outDim, inDim] = weight.shape as [number, number];
  const rows = slice.rows ?? range(0, outDim);
  const nIn = slice.cols?.length ?? inDim;
  const factor = slice.factor ?? 1;
  const b = bias && (slice.rows || factor !== 1 ? scaled(selectEntries(bias, rows), factor) : bias.data);
  if (weight.int8) {
    const wq = g.int8Weight(`${prefix}_w8`, transposeSelectInt8(weight.int8, weight.shape, rows, slice.cols), [
      nIn,
      rows.length,
    ]);
    const scale = g.weight(
      `${prefix}_scale`,
      Float32Array.from(rows, (r) => weight.int8!.scale[r]! * factor),
      [rows.length],
    );
    const inputs = [x, wq, scale];
    // Inputs 3 and 4 are b_zero_point (none: symmetric) and the bias.
    if (b) inputs.push('', g.weight(`${prefix}_b`, b, [rows.length]));
    return g.contribOp('DynamicQuantizeMatMul', inputs);
  }
  const data = transposeSelect(weight, slice.rows, slice.cols);
  const w = g.weight(`${prefix}_w`, factor !== 1 ? scaled(data, factor) : data, [nIn, rows.length]);
  if (!b) return g.op('MatMul', [x, w]);
  const bName = g.weight(`${prefix}_b`, b, [rows.length]);
  return g.op('Add', [g.op('MatMul', [x, w]), bName]);
}

/** transposeSelect for int8 values: [out, in] → [cols, rows] (the [K, N] layout MatMul wants). */
function transposeSelectInt8(q: Int8Weight, shape: number[], rows: number[], cols?: number[]): Int8Array {
  const inDim = shape[1]!;
  const columns = cols ?? range(0, inDim);
  const result = new Int8Array(columns.length * rows.length);
  for (let r = 0; r < rows.length; r++) {
    const src = rows[r]! * inDim;
    for (let c = 0; c < columns.length; c++) result[c * rows.length + r] = q.values[src + columns[c]!]!;
  }
  return result;
}
