/**
 * Trained DACT halting units, stored beside the checkpoint in `halting.safetensors` (written by
 * `edgerelay fit-halting`, found by loadCheckpoint whenever the file is there).
 *
 * Layout: for every exit layer l but the last (0-based; the final exit needs no unit, nothing follows
 * it), `halting.{l}.weight` [1, hidden] and `halting.{l}.bias` [1], F32. The unit reads the pooled
 * vector of exit l's head, tanh(dense(hidden[:, 0])), and gives h_l = sigmoid(weight · pooled + bias)
 * ∈ [0, 1]; h ≈ 1 keeps the running product p (carry on), h ≈ 0 drives it to 0 (halt). Biases may be
 * ±∞ (weights 0) to pin a unit to "never halt" / "halt at once".
 * Metadata: `format` "edgerelay-halting", `version` "1", `input` "exit-pooler", plus fit-halting's
 * settings (`ponder`, `data`, `target`) for the record.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSafetensors, writeSafetensors, type SafetensorsWriteTensor } from './safetensors.js';
import { CheckpointError } from './errors.js';
import type { BertConfig, LinearWeights } from './types.js';

export const HALTING_FILE = 'halting.safetensors';
export const HALTING_FORMAT = 'edgerelay-halting';
export const haltingTensor = (layer: number, part: 'weight' | 'bias'): string => `halting.${layer}.${part}`;

/** halting.safetensors is present but does not fit the checkpoint (missing unit, wrong shape, wrong format). */
export class HaltingUnitsError extends CheckpointError {
  override readonly code = 'E_HALTING_UNITS';
}

/** One unit per exit layer but the last, as plain arrays (weights [hidden], bias a number). */
export interface HaltingUnit {
  layer: number;
  weight: Float32Array;
  bias: number;
}

/**
 * The units in `dir`, indexed by layer (length numLayers, undefined where there is none), or undefined
 * when the directory has no halting file. Every exit layer but the last must have a unit.
 */
export function readHaltingUnits(
  dir: string,
  config: BertConfig,
  exitLayers: number[],
): (LinearWeights | undefined)[] | undefined {
  const path = join(dir, HALTING_FILE);
  if (!existsSync(path)) return undefined;
  const file = parseSafetensors(readFileSync(path), path);
  const fail = (why: string, tensor?: string): never => {
    throw new HaltingUnitsError(
      `${path} ${why}. Re-run \`edgerelay fit-halting --model ${dir} --data FILE\`, or delete the file to use the entropy stand-in.`,
      { file: path, ...(tensor && { tensor }) },
    );
  };
  if (file.metadata.format !== HALTING_FORMAT)
    fail(
      `is not an edgerelay halting file (metadata format "${file.metadata.format ?? ''}", expected "${HALTING_FORMAT}")`,
    );
  const units = new Array<LinearWeights | undefined>(config.numLayers).fill(undefined);
  const H = config.hiddenSize;
  for (const layer of exitLayers.slice(0, -1)) {
    const w = haltingTensor(layer, 'weight');
    const b = haltingTensor(layer, 'bias');
    for (const [name, shape] of [
      [w, [1, H]],
      [b, [1]],
    ] as const) {
      if (!file.has(name))
        fail(
          `has no unit for the exit after layer ${layer} (tensor "${name}"); every exit but the last needs one`,
          name,
        );
      const actual = file.info(name).shape;
      if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i]))
        fail(`holds "${name}" of shape [${actual.join(', ')}], expected [${shape.join(', ')}]`, name);
    }
    const weight = file.tensor(w);
    if (weight.data.some((v) => !Number.isFinite(v))) fail(`has a non-finite weight in "${w}"`, w);
    const bias = file.tensor(b);
    if (Number.isNaN(bias.data[0]!)) fail(`has a NaN bias in "${b}"`, b);
    units[layer] = { weight, bias };
  }
  return units;
}

/** Writes the units (F32, with metadata) to `path`. */
export function writeHaltingUnits(
  path: string,
  units: HaltingUnit[],
  hidden: number,
  metadata: Record<string, string> = {},
): void {
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  for (const u of [...units].sort((a, b) => a.layer - b.layer)) {
    if (u.weight.length !== hidden)
      throw new Error(`halting unit for layer ${u.layer} has ${u.weight.length} weights, expected ${hidden}`);
    tensors[haltingTensor(u.layer, 'weight')] = { shape: [1, hidden], data: u.weight };
    tensors[haltingTensor(u.layer, 'bias')] = { shape: [1], data: Float32Array.of(u.bias) };
  }
  writeSafetensors(path, tensors, {
    dtype: 'F32',
    metadata: { ...metadata, format: HALTING_FORMAT, version: '1', input: 'exit-pooler' },
  });
}
