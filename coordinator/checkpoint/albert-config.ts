/** The ALBERT parts of config.json: factorised embeddings and layer groups (transformers' AlbertConfig). */
import type { AlbertShape } from './types.js';
import { InvalidConfigError } from './errors.js';

export const ALBERT_ARCHITECTURES = {
  classifier: 'AlbertForSequenceClassification',
  bare: 'AlbertModel',
} as const;

// transformers' AlbertConfig defaults (albert-xxlarge), so a sparse config means what it means to HF.
const DEFAULTS: Record<string, unknown> = {
  vocab_size: 30000,
  embedding_size: 128,
  hidden_size: 4096,
  num_hidden_layers: 12,
  num_hidden_groups: 1,
  num_attention_heads: 64,
  intermediate_size: 16384,
  inner_group_num: 1,
  hidden_act: 'gelu_new',
};

export function albertDefaults(raw: Record<string, unknown>): Record<string, unknown> {
  return { ...DEFAULTS, ...raw };
}

/** embedding_size, num_hidden_groups, inner_group_num; the groups must divide the layers. */
export function parseAlbertShape(raw: Record<string, unknown>, numLayers: number, file: string): AlbertShape {
  const c = albertDefaults(raw);
  const positive = (key: string): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new InvalidConfigError(`${file}: ${key} must be a positive integer, got ${JSON.stringify(v)}.`, { file });
    }
    return v;
  };
  const shape: AlbertShape = {
    embeddingSize: positive('embedding_size'),
    numHiddenGroups: positive('num_hidden_groups'),
    innerGroupNum: positive('inner_group_num'),
  };
  if (numLayers % shape.numHiddenGroups !== 0) {
    throw new InvalidConfigError(
      `${file}: num_hidden_groups ${shape.numHiddenGroups} does not divide num_hidden_layers ${numLayers}; ` +
        `edgerelay needs every layer group applied the same number of times. Fix num_hidden_groups.`,
      { file },
    );
  }
  return shape;
}

/**
 * Hugging Face's layer → group mapping (AlbertTransformer.forward):
 * group_idx = int(layer_idx / (num_hidden_layers / num_hidden_groups)).
 */
export function albertGroupOf(layer: number, numLayers: number, numGroups: number): number {
  return Math.floor(layer / (numLayers / numGroups));
}
