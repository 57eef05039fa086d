/**
 * The encoder families besides BERT and ALBERT: RoBERTa / XLM-R, DistilBERT and ELECTRA. Each maps onto the
 * BERT weight form (the same post-LN encoder layer) plus its differences, declared here once: config field
 * names and defaults, tensor-name prefix, head activation, position ids, where exit heads live.
 */
import type { BertConfig, HeadActivation } from './types.js';
import { InvalidConfigError } from './errors.js';

export type FamilyName = 'roberta' | 'distilbert' | 'electra';

export interface Family {
  name: FamilyName;
  modelTypes: readonly string[];
  /** Sequence-classification architectures (each model_type's own class names). */
  classifiers: readonly string[];
  /** Bare encoders (no head). */
  bare: readonly string[];
  /** Tensor-name prefix of the encoder in *ForSequenceClassification checkpoints. */
  prefix: string;
  /** Activation between the head's dense (the "pooler" slot) and its output projection. */
  headActivation: HeadActivation;
  /** Where fitted DeeBERT-style exit heads live: `${exitPrefix}.{i}.pooler.dense`, `${exitPrefix}.{i}.classifier`. */
  exitPrefix: string;
}

export const FAMILIES: readonly Family[] = [
  {
    name: 'roberta',
    modelTypes: ['roberta', 'xlm-roberta'],
    classifiers: ['RobertaForSequenceClassification', 'XLMRobertaForSequenceClassification'],
    bare: ['RobertaModel', 'XLMRobertaModel'],
    prefix: 'roberta.',
    headActivation: 'tanh',
    exitPrefix: 'roberta.encoder.highway',
  },
  {
    name: 'distilbert',
    modelTypes: ['distilbert'],
    classifiers: ['DistilBertForSequenceClassification'],
    bare: ['DistilBertModel'],
    prefix: 'distilbert.',
    headActivation: 'relu',
    exitPrefix: 'distilbert.transformer.highway',
  },
  {
    name: 'electra',
    modelTypes: ['electra'],
    classifiers: ['ElectraForSequenceClassification'],
    bare: ['ElectraModel'],
    prefix: 'electra.',
    headActivation: 'gelu',
    exitPrefix: 'electra.encoder.highway',
  },
];

export const FAMILY_MODEL_TYPES: readonly string[] = FAMILIES.flatMap((f) => f.modelTypes);
export const FAMILY_CLASSIFIERS: readonly string[] = FAMILIES.flatMap((f) => f.classifiers);
export const FAMILY_BARE: readonly string[] = FAMILIES.flatMap((f) => f.bare);

export function familyOf(modelType: string): Family | undefined {
  return FAMILIES.find((f) => f.modelTypes.includes(modelType));
}

export function familyOfConfig(config: BertConfig): Family | undefined {
  return familyOf(config.modelType);
}

// Defaults of transformers' RobertaConfig / XLMRobertaConfig (BertConfig's, but pad 1), ElectraConfig and
// DistilBertConfig, so a sparse config means what it means to HF.
const ROBERTA_DEFAULTS = { pad_token_id: 1 };
const ELECTRA_DEFAULTS = {
  vocab_size: 30522,
  embedding_size: 128,
  hidden_size: 256,
  num_hidden_layers: 12,
  num_attention_heads: 4,
  intermediate_size: 1024,
  hidden_act: 'gelu',
};
const DISTILBERT_DEFAULTS = {
  vocab_size: 30522,
  max_position_embeddings: 512,
  n_layers: 6,
  n_heads: 12,
  dim: 768,
  hidden_dim: 3072,
  activation: 'gelu',
  pad_token_id: 0,
};

/**
 * config.json in BERT's field names with the family's defaults filled in. DistilBERT's own names (dim, n_layers,
 * n_heads, hidden_dim, activation) are translated; it has no token types (type_vocab_size 1) and a fixed
 * LayerNorm eps of 1e-12 (modeling_distilbert.py Embeddings / TransformerBlock).
 */
export function familyConfigFields(family: Family, raw: Record<string, unknown>): Record<string, unknown> {
  switch (family.name) {
    case 'roberta':
      return { ...ROBERTA_DEFAULTS, ...raw };
    case 'electra':
      return { ...ELECTRA_DEFAULTS, ...raw };
    case 'distilbert': {
      const c = { ...DISTILBERT_DEFAULTS, ...raw };
      return {
        ...c,
        hidden_size: c.dim,
        num_hidden_layers: c.n_layers,
        num_attention_heads: c.n_heads,
        intermediate_size: c.hidden_dim,
        hidden_act: c.activation,
        type_vocab_size: 1,
        layer_norm_eps: 1e-12,
      };
    }
  }
}

/** The family's extra BertConfig fields (position ids, ELECTRA's embedding size). */
export function familyShape(
  family: Family,
  raw: Record<string, unknown>,
  hiddenSize: number,
  file: string,
): Pick<BertConfig, 'positionIds' | 'embeddingSize'> {
  if (family.name === 'roberta') return { positionIds: 'padding-offset' };
  if (family.name !== 'electra') return {};
  const e = raw.embedding_size ?? ELECTRA_DEFAULTS.embedding_size;
  if (typeof e !== 'number' || !Number.isInteger(e) || e < 1) {
    throw new InvalidConfigError(`${file}: embedding_size must be a positive integer, got ${JSON.stringify(e)}.`, {
      file,
    });
  }
  return e === hiddenSize ? {} : { embeddingSize: e };
}

/**
 * The longest token sequence the model's position table serves: max_position_embeddings, less RoBERTa's offset
 * (positions start at pad_token_id + 1, so roberta-base's 514 rows serve 512 tokens).
 */
export function maxSequenceLength(config: BertConfig): number {
  return config.positionIds === 'padding-offset' ? config.maxPositions - config.padTokenId - 1 : config.maxPositions;
}

/** Where DeeBERT-style exit heads live in a checkpoint of this config whose tensors are `names`. */
export function exitHeadPrefix(config: BertConfig, names: string[]): string {
  const family = familyOfConfig(config);
  if (family) return family.exitPrefix;
  return names.some((n) => n.startsWith('bert.embeddings.')) ? 'bert.encoder.highway' : 'encoder.highway';
}
