/**
 * Hugging Face's `pruned_heads` convention: config.json maps a layer ("3") to the original indices of the
 * attention heads removed from it, and that layer's query/key/value rows and output-projection columns
 * hold only the remaining heads, in their original order. A layer may keep no head at all; its attention
 * then contributes only the output bias.
 */
import type { BertConfig } from './types.js';
import type { SafetensorsFile } from './safetensors.js';
import { InvalidConfigError, TensorShapeError } from './errors.js';

/** Removed heads per layer (original indices, ascending), one list per layer; [] where nothing was removed. */
export type PrunedHeads = number[][];

/** Validate config.json's raw `pruned_heads` ({"layer": [head, ...]}) against the layer and head counts. */
export function parsePrunedHeads(
  raw: Record<string, number[]> | undefined,
  numLayers: number,
  numHeads: number,
  file: string,
): PrunedHeads | undefined {
  if (raw === undefined) return undefined;
  const pruned: PrunedHeads = Array.from({ length: numLayers }, () => []);
  const invalid = (msg: string) =>
    new InvalidConfigError(
      `${file}: pruned_heads ${msg}; fix pruned_heads or use the config that came with these weights.`,
      {
        file,
      },
    );
  for (const [key, heads] of Object.entries(raw)) {
    const layer = Number(key);
    if (!/^\d+$/.test(key) || layer >= numLayers) {
      throw invalid(`names layer "${key}", but the layers are 0..${numLayers - 1}`);
    }
    for (const h of heads) {
      if (!Number.isInteger(h) || h < 0 || h >= numHeads)
        throw invalid(`lists head ${h} in layer ${layer}, but the heads are 0..${numHeads - 1}`);
    }
    if (new Set(heads).size !== heads.length) throw invalid(`lists a head of layer ${layer} twice`);
    pruned[layer] = [...heads].sort((a, b) => a - b);
  }
  return pruned.some((l) => l.length > 0) ? pruned : undefined;
}

/** Original indices of the heads layer `layer` still has, ascending. */
export function keptHeads(config: BertConfig, layer: number): number[] {
  const removed = new Set(config.prunedHeads?.[layer] ?? []);
  return Array.from({ length: config.numHeads }, (_, h) => h).filter((h) => !removed.has(h));
}

/** How many heads layer `layer` computes. */
export function headsInLayer(config: BertConfig, layer: number): number {
  return config.numHeads - (config.prunedHeads?.[layer]?.length ?? 0);
}

/** Per-layer head counts. */
export function headCounts(config: BertConfig): number[] {
  return Array.from({ length: config.numLayers }, (_, l) => headsInLayer(config, l));
}

/** Width of one head: hidden_size / num_attention_heads, which pruning does not change. */
export function headSize(config: BertConfig): number {
  return config.hiddenSize / config.numHeads;
}

/** The config.json form: {"layer": [heads]} for the layers that lost heads. */
export function prunedHeadsJson(pruned: PrunedHeads): Record<string, number[]> {
  return Object.fromEntries(pruned.flatMap((heads, l) => (heads.length ? [[String(l), heads]] : [])));
}

/**
 * Before the generic shape check: when layer `layer`'s attention tensors are not `width` (= remaining heads ×
 * head size) wide, say which layer and what pruned_heads would fit, since a stale pruned_heads is the usual cause.
 */
export function checkAttentionWidth(file: SafetensorsFile, base: string, layer: number, config: BertConfig): void {
  const d = headSize(config);
  const expected = headsInLayer(config, layer);
  for (const [name, axis] of [
    [`${base}.attention.self.query.weight`, 0],
    [`${base}.attention.self.key.weight`, 0],
    [`${base}.attention.self.value.weight`, 0],
    [`${base}.attention.output.dense.weight`, 1],
  ] as const) {
    if (!file.has(name)) continue; // the generic check reports a missing tensor
    const shape = file.info(name).shape;
    const width = shape[axis];
    if (shape.length !== 2 || width === expected * d) continue;
    const found =
      width !== undefined && width % d === 0
        ? `${width / d} heads`
        : `a width of ${width}, not a whole number of heads`;
    const removed = config.prunedHeads?.[layer] ?? [];
    throw new TensorShapeError(
      `Layer ${layer}: config.json's pruned_heads removes ${removed.length ? `heads [${removed.join(', ')}]` : 'no head'} ` +
        `of ${config.numHeads}, leaving ${expected} (${expected * d} rows of ${d}), but tensor "${name}" in ${file.path} ` +
        `has shape [${shape.join(', ')}], i.e. ${found}. Make pruned_heads for layer ${layer} match the weights ` +
        `(or use the config.json saved with them).`,
      {
        file: file.path,
        tensor: name,
        expected: axis === 0 ? [expected * d, config.hiddenSize] : [config.hiddenSize, expected * d],
        actual: [...shape],
      },
    );
  }
}
