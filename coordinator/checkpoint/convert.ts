/**
 * A copy of a Hugging Face model directory with its weights re-encoded in another float dtype, e.g.
 * float16 to halve what every edge device downloads and keeps in memory (`edgerelay convert`), or with its
 * linear layers quantized to int8 (int8.ts, docs/int8.md).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { copyTokenizerFiles } from './copy-tokenizer.js';
import { FLOAT_DTYPES, type WritableDtype } from './dtype.js';
import { CheckpointError, CheckpointNotFoundError, InvalidConfigError } from './errors.js';
import { CONFIG_FILE, WEIGHTS_FILE } from './load.js';
import {
  readSafetensors,
  writeSafetensors,
  type SafetensorsInt8Tensor,
  type SafetensorsWriteTensor,
} from './safetensors.js';
import { QUANTIZATION_CONFIG, isLinearWeight, refuseInt8, quantizeRows, scaleTensorName } from './int8.js';

export type ConvertDtype = 'f16' | 'bf16' | 'f32' | 'int8';
export type ConvertTarget = WritableDtype | 'I8';

/** The names transformers' config.json uses for each dtype. */
export const TORCH_DTYPES: Record<ConvertTarget, string> = {
  F16: 'float16',
  BF16: 'bfloat16',
  F32: 'float32',
  I8: 'int8',
};

/**
 * Smallest magnitude that rounds to infinity in each narrower dtype: a finite weight turning into
 * infinity would poison every activation downstream, so it is refused rather than written.
 */
const OVERFLOW_AT: Partial<Record<WritableDtype, { at: number; max: string }>> = {
  F16: { at: 65520, max: '65504' },
  BF16: { at: 3.3961775292304e38, max: '3.39e38' },
};

/** The output directory is the source directory: converting in place would destroy the original weights. */
export class ConvertOverwriteError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_CONVERT_OVERWRITE';
}

/** A weight is too large for the target dtype. */
export class DtypeRangeError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_DTYPE_RANGE';
  readonly dtype: WritableDtype;
  readonly value: number;
  constructor(message: string, context: { file: string; tensor: string; dtype: WritableDtype; value: number }) {
    super(message, context);
    this.dtype = context.dtype;
    this.value = context.value;
  }
}

export interface ConvertResult {
  out: string;
  /** I8: linear weights int8 with F32 scales, every other float tensor F32. */
  dtype: ConvertTarget;
  /** dtype of the source's float tensors ('mixed' when they differ), also written to the metadata. */
  sourceDtype: string;
  /** Tensors written, in the source's header order. */
  tensors: string[];
  /** int8: the linear weights quantized (each written with a NAME_scale tensor); 0 otherwise. */
  quantized: number;
  /** Non-float tensors left out (the writer only writes float data). */
  dropped: { name: string; dtype: string }[];
  /** Other files copied next to the weights. */
  copied: string[];
}

/** Write `out` as a copy of the model directory `src` with model.safetensors stored as `dtype`. */
export async function convertCheckpoint(
  src: string,
  out: string,
  dtype: ConvertDtype | WritableDtype,
): Promise<ConvertResult> {
  const target = (dtype.toUpperCase() === 'INT8' ? 'I8' : dtype.toUpperCase()) as ConvertTarget;
  if (!(target in TORCH_DTYPES))
    throw new RangeError(`convertCheckpoint: unsupported dtype "${dtype}" (f16, bf16, f32 or int8)`);
  const srcDir = resolve(src);
  const outDir = resolve(out);
  checkDirectories(srcDir, outDir);

  const file = readSafetensors(join(srcDir, WEIGHTS_FILE));
  refuseInt8(file, 'converting');
  const tensors: Record<string, SafetensorsWriteTensor | SafetensorsInt8Tensor> = {};
  const dropped: ConvertResult['dropped'] = [];
  let quantized = 0;
  const sourceDtypes = new Set<string>();
  for (const info of file.tensors.values()) {
    // The writer encodes float32 values into one dtype, so integer tensors (e.g. position_ids) cannot
    // be carried over; the loader only reads float tensors, so the model still loads without them.
    if (!FLOAT_DTYPES.includes(info.dtype)) {
      dropped.push({ name: info.name, dtype: info.dtype });
      continue;
    }
    sourceDtypes.add(info.dtype);
    if (target === 'I8' && isLinearWeight(info.name, info.shape)) {
      // Quantized here, on the whole tensor, so every shard of the layer slices the same scales.
      const [rows, cols] = info.shape as [number, number];
      const q = quantizeRows(file.float32(info.name), rows, cols);
      tensors[info.name] = { shape: [rows, cols], dtype: 'I8', data: q.values };
      tensors[scaleTensorName(info.name)] = { shape: [rows], data: q.scale, dtype: 'F32' };
      quantized++;
      continue;
    }
    tensors[info.name] = {
      shape: [...info.shape],
      data: () => checkedValues(file.float32(info.name), info.name, file.path, target),
    };
  }
  const sourceDtype = sourceDtypes.size === 1 ? [...sourceDtypes][0]! : sourceDtypes.size === 0 ? 'none' : 'mixed';

  mkdirSync(outDir, { recursive: true });
  // Weights first: the writer goes through a temporary file, so a refused conversion leaves no half-made copy.
  writeSafetensors(join(outDir, WEIGHTS_FILE), tensors, {
    // int8: everything that is not a linear weight (embeddings, biases, LayerNorm) stays float32.
    dtype: target === 'I8' ? 'F32' : target,
    metadata: {
      ...file.metadata,
      converted_by: 'edgerelay',
      source_dtype: sourceDtype,
      ...(target === 'I8' && { quantization: QUANTIZATION_CONFIG.quant_method }),
    },
  });
  writeFileSync(
    join(outDir, CONFIG_FILE),
    `${JSON.stringify(convertedConfig(join(srcDir, CONFIG_FILE), target), null, 2)}\n`,
  );

  // The weights do not change the tokenizer.
  const copied = [CONFIG_FILE, ...copyTokenizerFiles(srcDir, outDir)];
  return { out: outDir, dtype: target, sourceDtype, tensors: Object.keys(tensors), quantized, dropped, copied };
}

function checkDirectories(srcDir: string, outDir: string): void {
  if (!existsSync(srcDir) || !statSync(srcDir).isDirectory()) {
    throw new CheckpointNotFoundError(
      `${srcDir} is not a model directory (expected ${CONFIG_FILE} and ${WEIGHTS_FILE} in it).`,
      { file: srcDir },
    );
  }
  for (const name of [CONFIG_FILE, WEIGHTS_FILE]) {
    const path = join(srcDir, name);
    if (!existsSync(path))
      throw new CheckpointNotFoundError(`${srcDir} has no ${name}; nothing to convert.`, { file: path });
  }
  if (!existsSync(outDir)) return;
  const s = statSync(srcDir);
  const o = statSync(outDir);
  // Device and inode catch every spelling of the same directory: symlinks, "..", trailing slashes.
  if (s.dev === o.dev && s.ino === o.ino) {
    throw new ConvertOverwriteError(
      `--out ${outDir} is the source directory ${srcDir}; converting in place would overwrite the original weights. Choose another output directory.`,
      { file: outDir },
    );
  }
  if (!o.isDirectory()) throw new CheckpointError(`--out ${outDir} exists and is not a directory.`, { file: outDir });
}

function checkedValues(values: Float32Array, tensor: string, file: string, dtype: ConvertTarget): Float32Array {
  const limit = dtype === 'I8' ? undefined : OVERFLOW_AT[dtype];
  if (!limit) return values;
  for (const v of values) {
    if (Number.isFinite(v) && Math.abs(v) >= limit.at) {
      throw new DtypeRangeError(
        `Tensor "${tensor}" in ${file} holds ${v}, beyond ${TORCH_DTYPES[dtype]}'s largest value ±${limit.max}: ` +
          `it would become infinity. Convert to a wider dtype (bf16 or f32) instead.`,
        { file, tensor, dtype: dtype as WritableDtype, value: v },
      );
    }
  }
  return values;
}

/** config.json with the dtype fields saying what the weights now are. */
function convertedConfig(path: string, dtype: ConvertTarget): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidConfigError(`${path} is not valid JSON (${(e as Error).message}).`, { file: path });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidConfigError(`${path} is not a JSON object.`, { file: path });
  }
  // An int8 model computes in float32 (weights dequantize per channel); the marker says how its weights are stored.
  const torchDtype = dtype === 'I8' ? 'float32' : TORCH_DTYPES[dtype];
  const updated: Record<string, unknown> = { ...config, torch_dtype: torchDtype };
  // Newer transformers write "dtype" instead of "torch_dtype"; keep the two consistent.
  if ('dtype' in updated) updated.dtype = torchDtype;
  if (dtype === 'I8') updated.quantization_config = { ...QUANTIZATION_CONFIG };
  return updated;
}
