/**
 * A copy of a Hugging Face model directory with its weights re-encoded in another float dtype, e.g.
 * float16 to halve what every edge device downloads and keeps in memory (`edgerelay convert`).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { copyTokenizerFiles } from './copy-tokenizer.js';
import { FLOAT_DTYPES, type WritableDtype } from './dtype.js';
import { CheckpointError, CheckpointNotFoundError, InvalidConfigError } from './errors.js';
import { CONFIG_FILE, WEIGHTS_FILE } from './load.js';
import { readSafetensors, writeSafetensors, type SafetensorsWriteTensor } from './safetensors.js';

export type ConvertDtype = 'f16' | 'bf16' | 'f32';

/** The names transformers' config.json uses for each dtype. */
export const TORCH_DTYPES: Record<WritableDtype, string> = { F16: 'float16', BF16: 'bfloat16', F32: 'float32' };

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
  dtype: WritableDtype;
  /** dtype of the source's float tensors ('mixed' when they differ), also written to the metadata. */
  sourceDtype: string;
  /** Tensors written, in the source's header order. */
  tensors: string[];
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
  const target = dtype.toUpperCase() as WritableDtype;
  if (!(target in TORCH_DTYPES))
    throw new RangeError(`convertCheckpoint: unsupported dtype "${dtype}" (f16, bf16 or f32)`);
  const srcDir = resolve(src);
  const outDir = resolve(out);
  checkDirectories(srcDir, outDir);

  const file = readSafetensors(join(srcDir, WEIGHTS_FILE));
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  const dropped: ConvertResult['dropped'] = [];
  const sourceDtypes = new Set<string>();
  for (const info of file.tensors.values()) {
    // The writer encodes float32 values into one dtype, so integer tensors (e.g. position_ids) cannot
    // be carried over; the loader only reads float tensors, so the model still loads without them.
    if (!FLOAT_DTYPES.includes(info.dtype)) {
      dropped.push({ name: info.name, dtype: info.dtype });
      continue;
    }
    sourceDtypes.add(info.dtype);
    tensors[info.name] = {
      shape: [...info.shape],
      data: () => checkedValues(file.float32(info.name), info.name, file.path, target),
    };
  }
  const sourceDtype = sourceDtypes.size === 1 ? [...sourceDtypes][0]! : sourceDtypes.size === 0 ? 'none' : 'mixed';

  mkdirSync(outDir, { recursive: true });
  // Weights first: the writer goes through a temporary file, so a refused conversion leaves no half-made copy.
  writeSafetensors(join(outDir, WEIGHTS_FILE), tensors, {
    dtype: target,
    metadata: { ...file.metadata, converted_by: 'edgerelay', source_dtype: sourceDtype },
  });
  writeFileSync(
    join(outDir, CONFIG_FILE),
    `${JSON.stringify(convertedConfig(join(srcDir, CONFIG_FILE), target), null, 2)}\n`,
  );

  // The weights do not change the tokenizer.
  const copied = [CONFIG_FILE, ...copyTokenizerFiles(srcDir, outDir)];
  return { out: outDir, dtype: target, sourceDtype, tensors: Object.keys(tensors), dropped, copied };
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

function checkedValues(values: Float32Array, tensor: string, file: string, dtype: WritableDtype): Float32Array {
  const limit = OVERFLOW_AT[dtype];
  if (!limit) return values;
  for (const v of values) {
    if (Number.isFinite(v) && Math.abs(v) >= limit.at) {
      throw new DtypeRangeError(
        `Tensor "${tensor}" in ${file} holds ${v}, beyond ${TORCH_DTYPES[dtype]}'s largest value ±${limit.max}: ` +
          `it would become infinity. Convert to a wider dtype (bf16 or f32) instead.`,
        { file, tensor, dtype, value: v },
      );
    }
  }
  return values;
}

/** config.json with the dtype fields saying what the weights now are. */
function convertedConfig(path: string, dtype: WritableDtype): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidConfigError(`${path} is not valid JSON (${(e as Error).message}).`, { file: path });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidConfigError(`${path} is not a JSON object.`, { file: path });
  }
  const updated: Record<string, unknown> = { ...config, torch_dtype: TORCH_DTYPES[dtype] };
  // Newer transformers write "dtype" instead of "torch_dtype"; keep the two consistent.
  if ('dtype' in updated) updated.dtype = TORCH_DTYPES[dtype];
  return updated;
}
