/**
 * Writes a copy of a Hugging Face BERT directory with attention heads physically removed: the heads' query,
 * key and value rows and output-projection columns are sliced out, and config.json's `pruned_heads` lists
 * them by original index ({"layer": [heads]}), which is what transformers' from_pretrained expects.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { copyTokenizerFiles } from './copy-tokenizer.js';
import { FLOAT_DTYPES, type WritableDtype } from './dtype.js';
import { CheckpointError, InvalidConfigError } from './errors.js';
import { CONFIG_FILE, WEIGHTS_FILE } from './load.js';
import { readBertConfig } from './config.js';
import { readSafetensors, writeSafetensors, type SafetensorsWriteTensor } from './safetensors.js';
import { refuseInt8 } from './int8.js';
import { headSize, keptHeads, prunedHeadsJson, type PrunedHeads } from './pruned-heads.js';

/** A head by layer and original index (what `pruned_heads` and the search's output use). */
export type HeadRef = [layer: number, head: number];

export class PruneOverwriteError extends CheckpointError {
  override readonly code: string = 'EDGERELAY_PRUNE_OVERWRITE';
}

export interface PrunedWriteResult {
  out: string;
  /** Every head now missing from each layer, original indices (earlier pruning included). */
  prunedHeads: PrunedHeads;
  /** Files copied beside the weights. */
  copied: string[];
}

// BERT, RoBERTa and ELECTRA name attention tensors alike; DistilBERT calls them q_lin, k_lin, v_lin and out_lin.
const ATTENTION_TENSOR =
  /^(?:(?:bert|roberta|electra)\.)?encoder\.layer\.(\d+)\.attention\.(self\.(?:query|key|value)\.(?:weight|bias)|output\.dense\.weight)$|^(?:distilbert\.)?transformer\.layer\.(\d+)\.attention\.((?:q_lin|k_lin|v_lin)\.(?:weight|bias)|out_lin\.weight)$/;

/** Write `out`: the model in `src` without the heads in `remove` (original indices; already-removed heads are fine). */
export function writePrunedCheckpoint(src: string, out: string, remove: HeadRef[]): PrunedWriteResult {
  const srcDir = resolve(src);
  const outDir = resolve(out);
  if (srcDir === outDir) {
    throw new PruneOverwriteError(
      `--out ${outDir} is the source model; pruning in place would destroy the original weights. Choose another directory.`,
      { file: outDir },
    );
  }
  const { config } = readBertConfig(join(srcDir, CONFIG_FILE));
  const L = config.numLayers;
  const pruned: PrunedHeads = Array.from({ length: L }, (_, l) => [...(config.prunedHeads?.[l] ?? [])]);
  for (const [layer, head] of remove) {
    if (
      !Number.isInteger(layer) ||
      layer < 0 ||
      layer >= L ||
      !Number.isInteger(head) ||
      head < 0 ||
      head >= config.numHeads
    )
      throw new RangeError(
        `writePrunedCheckpoint: head [${layer}, ${head}] is outside ${L} layers × ${config.numHeads} heads`,
      );
    if (!pruned[layer]!.includes(head)) pruned[layer]!.push(head);
  }
  pruned.forEach((heads) => heads.sort((a, b) => a - b));

  const d = headSize(config);
  // Local (in-file) indices of the heads each layer keeps after this pruning.
  const keepLocal = Array.from({ length: L }, (_, l) => {
    const before = keptHeads(config, l);
    return before.flatMap((h, local) => (pruned[l]!.includes(h) ? [] : [local]));
  });
  const rowsOf = (layer: number) => keepLocal[layer]!.flatMap((local) => range(local * d, (local + 1) * d));

  const file = readSafetensors(join(srcDir, WEIGHTS_FILE));
  refuseInt8(file, 'pruning heads');
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  const dtypes = new Set<string>();
  for (const info of file.tensors.values()) {
    if (!FLOAT_DTYPES.includes(info.dtype)) continue; // integer buffers (position_ids): the loader does not need them
    dtypes.add(info.dtype);
    const match = ATTENTION_TENSOR.exec(info.name);
    if (!match) {
      tensors[info.name] = { shape: [...info.shape], data: () => file.float32(info.name) };
      continue;
    }
    const rows = rowsOf(Number(match[1] ?? match[3]));
    const shape = [...info.shape];
    const part = match[2] ?? match[4];
    if (part === 'output.dense.weight' || part === 'out_lin.weight') {
      // [hidden, heads × d]: keep the kept heads' input columns.
      const [outDim, inDim] = shape as [number, number];
      tensors[info.name] = {
        shape: [outDim, rows.length],
        data: () => {
          const all = file.float32(info.name);
          const kept = new Float32Array(outDim * rows.length);
          for (let o = 0; o < outDim; o++)
            for (let c = 0; c < rows.length; c++) kept[o * rows.length + c] = all[o * inDim + rows[c]!]!;
          return kept;
        },
      };
    } else {
      // query/key/value weight [heads × d, hidden] or bias [heads × d]: keep the kept heads' rows.
      const rowLength = shape.length === 2 ? shape[1]! : 1;
      tensors[info.name] = {
        shape: shape.length === 2 ? [rows.length, rowLength] : [rows.length],
        data: () => {
          const all = file.float32(info.name);
          const kept = new Float32Array(rows.length * rowLength);
          rows.forEach((r, i) => kept.set(all.subarray(r * rowLength, (r + 1) * rowLength), i * rowLength));
          return kept;
        },
      };
    }
  }
  const dtype: WritableDtype =
    dtypes.size === 1 && ['F16', 'BF16'].includes([...dtypes][0]!) ? ([...dtypes][0] as WritableDtype) : 'F32';

  mkdirSync(outDir, { recursive: true });
  writeSafetensors(join(outDir, WEIGHTS_FILE), tensors, {
    dtype,
    metadata: { ...file.metadata, pruned_by: 'edgerelay' },
  });
  const rawConfig = readRawConfig(join(srcDir, CONFIG_FILE));
  writeFileSync(
    join(outDir, CONFIG_FILE),
    `${JSON.stringify({ ...rawConfig, pruned_heads: prunedHeadsJson(pruned) }, null, 2)}\n`,
  );
  const copied = [CONFIG_FILE, ...copyTokenizerFiles(srcDir, outDir)];
  return { out: outDir, prunedHeads: pruned, copied };
}

function readRawConfig(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new InvalidConfigError(`${path} is not valid JSON (${(e as Error).message}).`, { file: path });
  }
}

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}
