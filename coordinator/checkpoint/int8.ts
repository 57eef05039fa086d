/**
 * int8 weights (`edgerelay convert --dtype int8`, docs/int8.md): every linear layer's [out, in] weight is stored
 * as safetensors I8 `NAME.weight` plus F32 `NAME.weight_scale` [out], symmetric per output channel:
 *
 *   scale[o] = max_i |W[o, i]| / 127,   q[o, i] = round(W[o, i] / scale[o]) ∈ [-127, 127],   W ≈ q · scale[o]
 *
 * Scales are computed here, on the whole tensor, so every head or FFN-column shard of a layer slices the same
 * numbers. config.json carries QUANTIZATION_CONFIG as "quantization_config" so a reader can tell.
 */
import type { Int8Weight, Tensor } from './types.js';
import type { SafetensorsFile } from './safetensors.js';
import { dequantizeRows as dequantizeWireRows, quantizeRows as quantizeWireRows } from '@edgerelay/proto';
import { CheckpointError } from './errors.js';

/** Name of a quantized weight's per-output-channel scale tensor. */
export const scaleTensorName = (weightName: string): string => `${weightName}_scale`;

/** The config.json marker of an int8 checkpoint. */
export const QUANTIZATION_CONFIG = {
  quant_method: 'edgerelay_int8',
  bits: 8,
  weights: 'linear layers: I8 NAME.weight [out, in] + F32 NAME.weight_scale [out]; W = q * scale[out]',
  symmetric: true,
  granularity: 'per_output_channel',
  activations: 'dynamic uint8 per tensor at run time (ONNX Runtime DynamicQuantizeMatMul)',
} as const;

/** Whether a parsed config.json carries the int8 marker. */
export function isInt8Config(raw: unknown): boolean {
  const q = (raw as { quantization_config?: { quant_method?: unknown } } | null)?.quantization_config;
  return q?.quant_method === QUANTIZATION_CONFIG.quant_method;
}

/** An int8 checkpoint is inconsistent (a weight without its scale, wrong shapes) or cannot be used for a task. */
export class Int8WeightsError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_INT8_WEIGHTS';
}

const EMBEDDING_TABLE = /(?:^|\.)(?:word|position|token_type)_embeddings\.weight$/;

/** Whether a tensor is a linear layer's weight (2-D `.weight`, not an embedding table): what int8 quantizes. */
export function isLinearWeight(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && name.endsWith('.weight') && !EMBEDDING_TABLE.test(name);
}

/**
 * Symmetric per-row int8 of a row-major [rows, cols] matrix: the wire's row quantiser (proto/tensors/int8.ts),
 * except that an all-zero row stores scale 1 (values 0), so no stored scale is 0.
 */
export function quantizeRows(data: Float32Array, rows: number, cols: number): Int8Weight {
  if (data.length !== rows * cols) throw new RangeError(`${data.length} values are not a [${rows}, ${cols}] matrix`);
  const { values, scales } = quantizeWireRows(data, cols);
  return { values, scale: scales.map((s) => (s === 0 ? 1 : s)) };
}

/** float32 values q · scale[row], the exact numbers the integer kernel multiplies by. */
export function dequantizeRows(q: Int8Weight, cols: number): Float32Array {
  return dequantizeWireRows(q.values, q.scale, cols);
}

/** Read an I8 linear weight and its scale from `file`: a Tensor whose data is dequantized and whose int8 is set. */
export function readInt8Tensor(file: SafetensorsFile, name: string): Tensor {
  const info = file.info(name);
  const scaleName = scaleTensorName(name);
  const fail = (why: string): never => {
    throw new Int8WeightsError(
      `Tensor "${name}" in ${file.path} is int8 but ${why}. int8 checkpoints come from "edgerelay convert --dtype int8"; ` +
        `convert the float checkpoint again.`,
      { file: file.path, tensor: name },
    );
  };
  if (info.shape.length !== 2) fail(`has shape [${info.shape.join(', ')}]; only [out, in] linear weights are int8`);
  if (!file.has(scaleName)) fail(`its per-output-channel scale "${scaleName}" is missing`);
  const scaleInfo = file.info(scaleName);
  const [out, inp] = info.shape as [number, number];
  if (scaleInfo.shape.length !== 1 || scaleInfo.shape[0] !== out)
    fail(`its scale "${scaleName}" has shape [${scaleInfo.shape.join(', ')}], not [${out}]`);
  const bytes = file.bytes(name);
  // A copy: the file buffer gives no alignment guarantee and the compiler slices these values.
  const values = new Int8Array(bytes.byteLength);
  values.set(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const q: Int8Weight = { values, scale: Float32Array.from(file.float32(scaleName)) };
  return { shape: [out, inp], data: dequantizeRows(q, inp), int8: q };
}

/** Refuse an int8 checkpoint for a task that rewrites float weights (head pruning, fitting exit heads). */
export function refuseInt8(file: SafetensorsFile, task: string): void {
  const quantized = file.names().find((n) => file.info(n).dtype === 'I8');
  if (quantized === undefined) return;
  throw int8Refusal(file.path, task, quantized);
}

/** The same for a loaded checkpoint, before a long task that would only fail when it writes. */
export function refuseInt8Checkpoint(checkpoint: { dir: string; sourceDtype: string }, task: string): void {
  if (checkpoint.sourceDtype === 'I8') throw int8Refusal(checkpoint.dir, task);
}

function int8Refusal(path: string, task: string, tensor?: string): Int8WeightsError {
  return new Int8WeightsError(
    `${path} holds int8 weights${tensor ? ` (e.g. "${tensor}")` : ''}; ${task} needs the float checkpoint. ` +
      `Run it on the float32/float16 model, then "edgerelay convert --dtype int8" the result.`,
    tensor === undefined ? { file: path } : { file: path, tensor },
  );
}
