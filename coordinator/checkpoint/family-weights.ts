/**
 * What RoBERTa, DistilBERT and ELECTRA checkpoints share once their names are mapped: the tensor getter's helpers,
 * the final head and the DeeBERT-style exit heads (`<exitPrefix>.{i}.pooler.dense` / `.classifier`, the form
 * `edgerelay fit-exits` writes), all with the family's head activation.
 */
import type {
  BertConfig,
  ClassifierHeadWeights,
  EmbeddingWeights,
  EncoderLayerWeights,
  ExitLayout,
  LayerNormWeights,
  LinearWeights,
  Tensor,
} from './types.js';
import type { SafetensorsFile } from './safetensors.js';
import { MissingTensorError } from './errors.js';
import { BARE_ENCODER_ARCHITECTURES } from './config.js';
import type { Family } from './families.js';
import type { MappedWeights, MapWeightsOptions } from './weights.js';

export type Getter = (name: string, shape: number[]) => Tensor;

export interface FamilyTensors {
  file: SafetensorsFile;
  config: BertConfig;
  family: Family;
  /** The encoder's prefix in this file: family.prefix, or "" for a bare model saved without it. */
  prefix: string;
  linear: (base: string, out: number, inp: number) => LinearWeights;
  layerNorm: (base: string, width?: number) => LayerNormWeights;
  get: Getter;
}

export type FamilyMapped = Omit<MappedWeights, 'unusedTensors' | 'sourceDtype'> & { ignored: string[] };

/**
 * Family prefix when the file's embeddings carry it ("roberta.embeddings.…"), else "" (a bare model). A file with
 * neither holds another family's weights (say bert.* under model_type "roberta"): say so, naming what it has.
 */
export function familyPrefix(file: SafetensorsFile, family: Family, config: BertConfig): string {
  const names = file.names();
  if (names.some((n) => n.startsWith(`${family.prefix}embeddings.`))) return family.prefix;
  if (names.some((n) => n.startsWith('embeddings.'))) return '';
  const tensor = `${family.prefix}embeddings.word_embeddings.weight`;
  const prefixes = [...new Set(names.map((n) => n.split('.')[0]!))].slice(0, 8);
  throw new MissingTensorError(
    `${file.path} has no ${config.architecture} embeddings (expected "${tensor}"); its tensors start with ` +
      `${prefixes.map((p) => `"${p}."`).join(', ')}. config.json says model_type "${config.modelType}": check that ` +
      `config.json and model.safetensors come from the same checkpoint.`,
    { file: file.path, tensor },
  );
}

export function familyTensors(file: SafetensorsFile, config: BertConfig, family: Family, get: Getter): FamilyTensors {
  const H = config.hiddenSize;
  return {
    file,
    config,
    family,
    prefix: familyPrefix(file, family, config),
    get,
    linear: (base, out, inp) => ({ weight: get(`${base}.weight`, [out, inp]), bias: get(`${base}.bias`, [out]) }),
    layerNorm: (base, width = H) => ({ weight: get(`${base}.weight`, [width]), bias: get(`${base}.bias`, [width]) }),
  };
}

/** Final head: `dense` + activation + `out` on token 0, per the family's names. */
export interface HeadNames {
  dense: string;
  out: string;
}

/**
 * The model's heads: the final one after the last layer, DeeBERT-style exits after earlier layers where the file
 * has them (every exit uses the family's head form). Bare encoders have none.
 */
export function mapFamilyHeads(
  t: FamilyTensors,
  names: HeadNames,
  options: MapWeightsOptions,
): { heads: (ClassifierHeadWeights | undefined)[]; exitLayout: ExitLayout; ignored: string[] } {
  const { config, family, file } = t;
  const L = config.numLayers;
  const H = config.hiddenSize;
  const C = config.numLabels;
  const activation = family.headActivation;
  const heads = new Array<ClassifierHeadWeights | undefined>(L).fill(undefined);
  const ignored: string[] = [];
  if (BARE_ENCODER_ARCHITECTURES.includes(config.architecture)) {
    // A bare RobertaModel keeps its (unused here) pooler; nothing to warn about.
    ignored.push(...file.names().filter((n) => /(^|\.)pooler\.dense\.(weight|bias)$/.test(n)));
    return { heads, exitLayout: 'none', ignored };
  }
  let exitLayout: ExitLayout = 'none';
  for (let i = 0; i < L - 1; i++) {
    const h = `${family.exitPrefix}.${i}`;
    if (!file.names().some((n) => n.startsWith(`${h}.`))) continue;
    heads[i] = {
      pooler: t.linear(`${h}.pooler.dense`, H, H),
      classifier: t.linear(`${h}.classifier`, C, H),
      activation,
    };
    exitLayout = 'deebert';
  }
  heads[L - 1] = { pooler: t.linear(names.dense, H, H), classifier: t.linear(names.out, C, H), activation };
  for (const layer of options.expectedExitLayers ?? []) {
    if (heads[layer] === undefined) {
      const tensor = `${family.exitPrefix}.${layer}.classifier.weight`;
      throw new MissingTensorError(
        `config.json lists layer ${layer} in early_exit_layers, but ${file.path} has no exit head for it ` +
          `(expected tensor "${tensor}"). Fix early_exit_layers or use the matching weights.`,
        { file: file.path, tensor },
      );
    }
  }
  return { heads, exitLayout, ignored };
}

export function familyResult(
  embeddings: EmbeddingWeights,
  layers: EncoderLayerWeights[],
  h: ReturnType<typeof mapFamilyHeads>,
  ignored: string[] = [],
): FamilyMapped {
  return {
    weights: { embeddings, layers, heads: h.heads },
    exitLayout: h.exitLayout,
    exitLayers: h.heads.flatMap((x, i) => (x ? [i] : [])),
    ignored: [...h.ignored, ...ignored],
  };
}
