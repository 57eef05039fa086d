/** Parse a Hugging Face BERT config.json into a BertConfig. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { BertConfig, HiddenAct } from './types.js';
import { InvalidConfigError, UnsupportedArchitectureError } from './errors.js';
import { isInt8Config } from './int8.js';
import { ALBERT_ARCHITECTURES, albertDefaults, parseAlbertShape } from './albert-config.js';
import { parsePrunedHeads } from './pruned-heads.js';
import {
  FAMILY_BARE,
  FAMILY_CLASSIFIERS,
  FAMILY_MODEL_TYPES,
  familyConfigFields,
  familyOf,
  familyShape,
} from './families.js';

export const SUPPORTED_MODEL_TYPES: readonly string[] = ['bert', 'albert', ...FAMILY_MODEL_TYPES];
/** Architectures with a sequence-classification head; the research DeeBERT/PABEE classes share BERT's weights layout. */
export const SEQUENCE_CLASSIFICATION_ARCHITECTURES: readonly string[] = [
  'BertForSequenceClassification',
  'DeeBertForSequenceClassification',
  'BertForSequenceClassificationWithPabee',
  ALBERT_ARCHITECTURES.classifier,
  ...FAMILY_CLASSIFIERS,
];
export const SUPPORTED_ARCHITECTURES: readonly string[] = [
  ...SEQUENCE_CLASSIFICATION_ARCHITECTURES,
  'BertModel',
  ALBERT_ARCHITECTURES.bare,
  ...FAMILY_BARE,
];
/** Architectures without a classifier head. */
export const BARE_ENCODER_ARCHITECTURES: readonly string[] = ['BertModel', ALBERT_ARCHITECTURES.bare, ...FAMILY_BARE];
export const SUPPORTED_HIDDEN_ACTS: readonly HiddenAct[] = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu'];

const posInt = z.number().int().positive();

// Defaults are those of transformers' BertConfig, so a sparse config means what it means to HF.
const configSchema = z.looseObject({
  vocab_size: posInt.default(30522),
  hidden_size: posInt.default(768),
  num_hidden_layers: posInt.default(12),
  num_attention_heads: posInt.default(12),
  intermediate_size: posInt.default(3072),
  hidden_act: z.string().default('gelu'),
  max_position_embeddings: posInt.default(512),
  type_vocab_size: posInt.default(2),
  layer_norm_eps: z.number().positive().default(1e-12),
  pad_token_id: z.number().int().nonnegative().nullish(),
  position_embedding_type: z.string().nullish(),
  id2label: z.record(z.string(), z.string()).optional(),
  num_labels: z.number().int().nonnegative().optional(),
  early_exit_layers: z.array(z.number().int().nonnegative()).optional(),
  pruned_heads: z.record(z.string(), z.array(z.number())).optional(),
});

export interface ParsedBertConfig {
  config: BertConfig;
  /** False when config.json has no "architectures" (the head is then inferred from the weights). */
  architectureDeclared: boolean;
  /** The optional "early_exit_layers" field (0-based layers with an exit head), when present. */
  earlyExitLayers?: number[];
}

/** Read and parse config.json at `path`. */
export function readBertConfig(path: string): ParsedBertConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidConfigError(
      `${path} is not valid JSON (${(e as Error).message}). Restore the model's config.json.`,
      {
        file: path,
      },
    );
  }
  return parseBertConfig(raw, path);
}

/** Validate parsed config.json content; `file` names it in errors. */
export function parseBertConfig(raw: unknown, file: string): ParsedBertConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidConfigError(`${file} must contain a JSON object.`, { file });
  }
  const { modelType, architecture, architectureDeclared } = checkArchitecture(raw as Record<string, unknown>, file);

  const family = familyOf(modelType);
  const fields = family ? familyConfigFields(family, raw as Record<string, unknown>) : raw;
  const parsed = configSchema.safeParse(
    modelType === 'albert' ? albertDefaults(raw as Record<string, unknown>) : fields,
  );
  if (!parsed.success) {
    throw new InvalidConfigError(`${file} has invalid values:\n${z.prettifyError(parsed.error)}`, { file });
  }
  const c = parsed.data;
  const invalid = (msg: string) => new InvalidConfigError(`${file}: ${msg}`, { file });

  const positionType = c.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') {
    throw new UnsupportedArchitectureError(
      `${file}: position_embedding_type "${positionType}" is not supported; edgerelay supports only "absolute" ` +
        `(learned) position embeddings.`,
      { file },
    );
  }
  if (!(SUPPORTED_HIDDEN_ACTS as readonly string[]).includes(c.hidden_act)) {
    throw new UnsupportedArchitectureError(
      `${file}: hidden_act "${c.hidden_act}" is not supported; use one of ${SUPPORTED_HIDDEN_ACTS.map((a) => `"${a}"`).join(', ')}.`,
      { file },
    );
  }
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw invalid(`hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}.`);
  }
  const padTokenId = c.pad_token_id ?? 0;
  if (padTokenId >= c.vocab_size) throw invalid(`pad_token_id ${padTokenId} is not below vocab_size ${c.vocab_size}.`);
  for (const layer of c.early_exit_layers ?? []) {
    if (layer >= c.num_hidden_layers) {
      throw invalid(
        `early_exit_layers lists layer ${layer}, but there are only ${c.num_hidden_layers} layers (0-based).`,
      );
    }
  }

  let labels: string[] = [];
  if (!BARE_ENCODER_ARCHITECTURES.includes(architecture)) {
    labels = labelsFrom(c.id2label, c.num_labels, invalid);
    if (labels.length === 0) throw invalid(`${architecture} needs at least one label (id2label or num_labels).`);
  }
  const config: BertConfig = {
    modelType,
    architecture,
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    intermediateSize: c.intermediate_size,
    maxPositions: c.max_position_embeddings,
    typeVocabSize: c.type_vocab_size,
    layerNormEps: c.layer_norm_eps,
    hiddenAct: c.hidden_act as HiddenAct,
    numLabels: labels.length,
    labels,
    padTokenId,
  };
  if (modelType === 'albert')
    config.albert = parseAlbertShape(raw as Record<string, unknown>, c.num_hidden_layers, file);
  if (family) Object.assign(config, familyShape(family, raw as Record<string, unknown>, c.hidden_size, file));
  if (config.positionIds && c.max_position_embeddings <= padTokenId + 1) {
    throw invalid(
      `max_position_embeddings ${c.max_position_embeddings} leaves no position for a token: RoBERTa-style positions ` +
        `start at pad_token_id + 1 = ${padTokenId + 1}.`,
    );
  }
  const prunedHeads = parsePrunedHeads(c.pruned_heads, c.num_hidden_layers, c.num_attention_heads, file);
  if (prunedHeads) config.prunedHeads = prunedHeads;
  if (isInt8Config(raw)) config.weightDtype = 'int8';
  const result: ParsedBertConfig = { config, architectureDeclared };
  if (c.early_exit_layers) result.earlyExitLayers = [...new Set(c.early_exit_layers)].sort((a, b) => a - b);
  return result;
}

function checkArchitecture(raw: Record<string, unknown>, file: string) {
  const supported =
    `edgerelay supports model_type ${SUPPORTED_MODEL_TYPES.map((t) => `"${t}"`).join(', ')} with architectures ` +
    `${SUPPORTED_ARCHITECTURES.join(', ')} (or no "architectures" field).`;
  const modelType = raw.model_type;
  if (typeof modelType !== 'string' || !SUPPORTED_MODEL_TYPES.includes(modelType)) {
    const what =
      modelType === undefined
        ? 'has no "model_type"'
        : `has model_type ${JSON.stringify(modelType)}, which is not supported`;
    throw new UnsupportedArchitectureError(`${file} ${what}; ${supported}`, { file });
  }
  const archs = raw.architectures;
  if (archs === undefined || archs === null) {
    return { modelType, architecture: defaultArchitecture(modelType), architectureDeclared: false };
  }
  if (!Array.isArray(archs) || archs.length === 0 || !archs.every((a) => typeof a === 'string')) {
    throw new InvalidConfigError(`${file}: "architectures" must be a non-empty array of class names.`, { file });
  }
  const bad = archs.filter((a) => !SUPPORTED_ARCHITECTURES.includes(a));
  if (bad.length > 0) {
    throw new UnsupportedArchitectureError(
      `${file} declares architecture ${bad.join(', ')}, which is not supported; ${supported}`,
      {
        file,
      },
    );
  }
  const architecture = archs[0] as string;
  if (!familyArchitectures(modelType).includes(architecture)) {
    throw new UnsupportedArchitectureError(
      `${file} declares architecture ${architecture} for model_type "${modelType}"; that model_type's weights load ` +
        `as ${familyArchitectures(modelType).join(' or ')}. Fix "architectures" or "model_type".`,
      { file },
    );
  }
  return { modelType, architecture, architectureDeclared: true };
}

/** The classifier architecture a config without "architectures" is read as. */
function defaultArchitecture(modelType: string): string {
  return familyArchitectures(modelType)[0]!;
}

/** Classifier architectures first, then the bare encoder, of one model_type. */
export function familyArchitectures(modelType: string): string[] {
  if (modelType === 'albert') return [ALBERT_ARCHITECTURES.classifier, ALBERT_ARCHITECTURES.bare];
  const family = familyOf(modelType);
  if (!family)
    return [
      ...SEQUENCE_CLASSIFICATION_ARCHITECTURES.filter((a) => a.startsWith('Bert') || a.startsWith('DeeBert')),
      'BertModel',
    ];
  // XLM-R checkpoints are saved as XLMRobertaFor*, RoBERTa ones as RobertaFor*; both load either way.
  return [...family.classifiers, ...family.bare];
}

/** The bare-encoder architecture of a model_type (a checkpoint with no classifier tensors loads as this). */
export function bareArchitecture(modelType: string): string {
  return familyArchitectures(modelType).find((a) => BARE_ENCODER_ARCHITECTURES.includes(a))!;
}

function labelsFrom(
  id2label: Record<string, string> | undefined,
  numLabels: number | undefined,
  invalid: (msg: string) => InvalidConfigError,
): string[] {
  if (id2label === undefined) return Array.from({ length: numLabels ?? 2 }, (_, i) => `LABEL_${i}`);
  const n = Object.keys(id2label).length;
  if (numLabels !== undefined && numLabels !== n) {
    throw invalid(`num_labels ${numLabels} disagrees with id2label, which has ${n} entries.`);
  }
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = id2label[String(i)];
    if (label === undefined) throw invalid(`id2label must map every class index 0..${n - 1}; "${i}" is missing.`);
    labels.push(label);
  }
  return labels;
}
