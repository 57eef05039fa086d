/** A copy of a model directory whose exit heads are replaced by freshly fitted ones (DeeBERT layout). */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CONFIG_FILE,
  FLOAT_DTYPES,
  WEIGHTS_FILE,
  readSafetensors,
  refuseInt8,
  writeSafetensors,
  type SafetensorsWriteTensor,
  type WritableDtype,
} from '../checkpoint/index.js';
import type { Checkpoint } from '../checkpoint/types.js';
import { EdgeRelayError } from '@edgerelay/proto';
import { TOKENIZER_FILES } from '../tokenizer/index.js';
import type { HeadParams } from './head.js';
import { exitHeadPrefix } from '../checkpoint/index.js';

export class ModelWriteError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_MODEL_WRITE';
}

/**
 * Writes `out`: config.json with early_exit_layers, the tokenizer files, and model.safetensors holding
 * the source's backbone and final classifier unchanged plus `heads` as bert.encoder.highway.{i}.* (the family's
 * exit prefix for RoBERTa, DistilBERT and ELECTRA: roberta.encoder.highway, distilbert.transformer.highway, …).
 * Exit heads the source had (DeeBERT or PABEE) are left out, so the new ones are the only exits.
 */
export function writeModelWithHeads(checkpoint: Checkpoint, out: string, heads: Map<number, HeadParams>): void {
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new ModelWriteError(`--out ${out} exists and is not a directory; pass a directory.`);
  mkdirSync(out, { recursive: true });
  const file = readSafetensors(join(checkpoint.dir, WEIGHTS_FILE));
  refuseInt8(file, 'fitting exit heads');
  const names = file.names();
  const highway = exitHeadPrefix(checkpoint.config, names);
  const isOldExit = (n: string) => n.startsWith(`${highway}.`) || /^classifiers\.\d+\./.test(n);
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  const dtypes = new Set<string>();
  for (const info of file.tensors.values()) {
    // Integer buffers (position_ids) cannot be written by the float writer and the loader skips them.
    if (isOldExit(info.name) || !FLOAT_DTYPES.includes(info.dtype)) continue;
    dtypes.add(info.dtype);
    tensors[info.name] = { shape: [...info.shape], data: () => file.float32(info.name) };
  }
  const H = checkpoint.config.hiddenSize;
  const C = checkpoint.config.numLabels;
  for (const [layer, p] of [...heads.entries()].sort((a, b) => a[0] - b[0])) {
    tensors[`${highway}.${layer}.pooler.dense.weight`] = { shape: [H, H], data: p.poolerWeight };
    tensors[`${highway}.${layer}.pooler.dense.bias`] = { shape: [H], data: p.poolerBias };
    tensors[`${highway}.${layer}.classifier.weight`] = { shape: [C, H], data: p.classifierWeight };
    tensors[`${highway}.${layer}.classifier.bias`] = { shape: [C], data: p.classifierBias };
  }
  // Keep the source's storage dtype when it has one (a float16 model stays float16).
  const only = dtypes.size === 1 ? ([...dtypes][0] as WritableDtype) : 'F32';
  const dtype: WritableDtype = only === 'F16' || only === 'BF16' ? only : 'F32';
  writeSafetensors(join(out, WEIGHTS_FILE), tensors, {
    dtype,
    metadata: { ...file.metadata, ...(heads.size > 0 && { exit_heads: 'edgerelay fit-exits' }) },
  });

  const config = JSON.parse(readFileSync(join(checkpoint.dir, CONFIG_FILE), 'utf8')) as Record<string, unknown>;
  config.early_exit_layers = [...heads.keys()].sort((a, b) => a - b);
  config.early_exit_key_prefix = highway;
  writeFileSync(join(out, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  for (const name of TOKENIZER_FILES) {
    const from = join(checkpoint.dir, name);
    if (existsSync(from)) writeFileSync(join(out, name), readFileSync(from));
  }
}

/** A copy of a model directory without its exit heads: the starting point fit-exits is built for. */
export function writeModelWithoutExits(checkpoint: Checkpoint, out: string): void {
  writeModelWithHeads(checkpoint, out, new Map());
  const configPath = join(out, CONFIG_FILE);
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  delete config.early_exit_layers;
  delete config.early_exit_key_prefix;
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
}
