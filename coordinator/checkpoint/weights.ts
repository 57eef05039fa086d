/** Map Hugging Face BERT tensor names onto BertWeights, checking every shape against the config. */
import type {
  BertConfig,
  BertWeights,
  ClassifierHeadWeights,
  ExitLayout,
  LayerNormWeights,
  LinearWeights,
  Tensor,
} from './types.js';
import type { SafetensorsFile } from './safetensors.js';
import { MissingTensorError, TensorShapeError } from './errors.js';
import { albertPrefix, mapAlbertWeights } from './albert-weights.js';
import { readInt8Tensor, scaleTensorName } from './int8.js';
import { familyOfConfig } from './families.js';
import { familyTensors } from './family-weights.js';
import { bertNamedLayers, mapRobertaWeights } from './roberta-weights.js';
import { mapDistilBertWeights } from './distilbert-weights.js';
import { mapElectraWeights } from './electra-weights.js';

export interface MappedWeights {
  weights: BertWeights;
  exitLayout: ExitLayout;
  exitLayers: number[];
  /** Tensors in the file that the model does not use (a CLI may warn about them), in file order. */
  unusedTensors: string[];
  /** Dtype of the tensors used ('mixed' when they differ). */
  sourceDtype: string;
}

export interface MapWeightsOptions {
  /** Layers config.json says have exit heads; each must then have one in the weights. */
  expectedExitLayers?: number[];
}

const PABEE_CLASSIFIER = /^classifiers\.\d+\.(weight|bias)$/;

function exitLayers(heads: (ClassifierHeadWeights | undefined)[]): number[] {
  return heads.flatMap((h, i) => (h ? [i] : []));
}

/** Prefix of the encoder's tensor names: "bert." for BertFor* heads, "" for a bare BertModel. */
export function bertPrefix(file: SafetensorsFile): string {
  return file.names().some((n) => n.startsWith('bert.embeddings.')) ? 'bert.' : '';
}

/** Whether the file holds any classifier (final, DeeBERT highway or PABEE) tensors. */
export function hasClassifierTensors(file: SafetensorsFile): boolean {
  const prefix = bertPrefix(file) || albertPrefix(file);
  return file
    .names()
    .some((n) => n.startsWith('classifier.') || PABEE_CLASSIFIER.test(n) || n.startsWith(`${prefix}encoder.highway.`));
}

export function mapBertWeights(
  file: SafetensorsFile,
  config: BertConfig,
  options: MapWeightsOptions = {},
): MappedWeights {
  const H = config.hiddenSize;
  const L = config.numLayers;
  const prefix = bertPrefix(file);
  const names = file.names();
  const used = new Set<string>();
  const ignored = new Set(names.filter((n) => n === 'position_ids' || n.endsWith('.position_ids'))); // buffers, not weights
  const dtypes = new Set<string>();
  const dims =
    config.modelType === 'distilbert'
      ? `dim=${H}, hidden_dim=${config.intermediateSize}, vocab_size=${config.vocabSize}, ` +
        `max_position_embeddings=${config.maxPositions}, num_labels=${config.numLabels}`
      : `hidden_size=${H}, intermediate_size=${config.intermediateSize}, vocab_size=${config.vocabSize}, ` +
        `max_position_embeddings=${config.maxPositions}, type_vocab_size=${config.typeVocabSize}, num_labels=${config.numLabels}` +
        (config.embeddingSize ? `, embedding_size=${config.embeddingSize}` : '');

  const get = (name: string, shape: number[]): Tensor => {
    // Old TF-converted checkpoints call LayerNorm parameters gamma/beta.
    const legacy = name.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta');
    const found = file.has(name) ? name : file.has(legacy) ? legacy : undefined;
    if (found === undefined) {
      throw new MissingTensorError(
        `Tensor "${name}" is missing from ${file.path}; the model described by config.json needs it. ` +
          `Check that model.safetensors and config.json come from the same ${config.architecture} checkpoint.`,
        { file: file.path, tensor: name },
      );
    }
    const info = file.info(found);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new TensorShapeError(
        `Tensor "${found}" in ${file.path} has shape [${info.shape.join(', ')}] but config.json (${dims}) ` +
          `implies [${shape.join(', ')}]. Check that config.json belongs to these weights.`,
        { file: file.path, tensor: found, expected: shape, actual: [...info.shape] },
      );
    }
    used.add(found);
    dtypes.add(info.dtype);
    if (info.dtype !== 'I8') return file.tensor(found);
    // An int8 linear weight (edgerelay convert --dtype int8) and its per-channel scale.
    used.add(scaleTensorName(found));
    return readInt8Tensor(file, found);
  };
  const finish = (weights: BertWeights, exitLayout: ExitLayout, exitLayers: number[]): MappedWeights => {
    const unusedTensors = names.filter((n) => !used.has(n) && !ignored.has(n));
    // An int8 checkpoint keeps its other tensors in float: it is 'I8' all the same.
    const sourceDtype = dtypes.has('I8') ? 'I8' : dtypes.size === 1 ? [...dtypes][0]! : 'mixed';
    return { weights, exitLayout, exitLayers, unusedTensors, sourceDtype };
  };
  if (config.albert) {
    const m = mapAlbertWeights(file, config, get, options);
    for (const n of m.ignored) ignored.add(n);
    return finish(m.weights, m.exitLayout, m.exitLayers);
  }
  const family = familyOfConfig(config);
  if (family) {
    const t = familyTensors(file, config, family, get);
    const map = { roberta: mapRobertaWeights, distilbert: mapDistilBertWeights, electra: mapElectraWeights }[
      family.name
    ];
    const m = map(t, options);
    for (const n of m.ignored) ignored.add(n);
    for (const n of names) if (n.endsWith('.token_type_ids')) ignored.add(n); // a buffer some RoBERTa files keep
    return finish(m.weights, m.exitLayout, m.exitLayers);
  }
  const linear = (base: string, out: number, inp: number): LinearWeights => ({
    weight: get(`${base}.weight`, [out, inp]),
    bias: get(`${base}.bias`, [out]),
  });
  const layerNorm = (base: string): LayerNormWeights => ({
    weight: get(`${base}.weight`, [H]),
    bias: get(`${base}.bias`, [H]),
  });

  const e = `${prefix}embeddings`;
  const embeddings = {
    word: get(`${e}.word_embeddings.weight`, [config.vocabSize, H]),
    position: get(`${e}.position_embeddings.weight`, [config.maxPositions, H]),
    tokenType: get(`${e}.token_type_embeddings.weight`, [config.typeVocabSize, H]),
    layerNorm: layerNorm(`${e}.LayerNorm`),
  };

  // With pruned_heads, a layer's attention is only as wide as the heads it kept.
  const layers = bertNamedLayers({ file, config, prefix, linear, layerNorm });

  const heads: (ClassifierHeadWeights | undefined)[] = new Array<ClassifierHeadWeights | undefined>(L).fill(undefined);
  let exitLayout: ExitLayout = 'none';
  const pooler = `${prefix}pooler.dense`;
  const C = config.numLabels;
  if (config.architecture === 'BertModel') {
    // BertModel's pooler has no classifier to feed, so it is expected and not worth a warning.
    for (const n of [`${pooler}.weight`, `${pooler}.bias`]) if (file.has(n)) ignored.add(n);
  } else if (names.some((n) => PABEE_CLASSIFIER.test(n))) {
    // PABEE: one classifier per layer, all sharing the model's pooler.
    const shared = linear(pooler, H, H);
    for (let i = 0; i < L; i++) heads[i] = { pooler: shared, classifier: linear(`classifiers.${i}`, C, H) };
    exitLayout = 'pabee';
  } else {
    // DeeBERT highway i (i < L-1) sits after layer i; the final exit is the standard pooler + classifier.
    // A highway.{L-1} (the original DeeBERT code makes one) duplicates the final exit and stays unused.
    for (let i = 0; i < L - 1; i++) {
      const h = `${prefix}encoder.highway.${i}`;
      if (!names.some((n) => n.startsWith(`${h}.`))) continue;
      heads[i] = { pooler: linear(`${h}.pooler.dense`, H, H), classifier: linear(`${h}.classifier`, C, H) };
      exitLayout = 'deebert';
    }
    heads[L - 1] = { pooler: linear(pooler, H, H), classifier: linear('classifier', C, H) };
  }

  for (const layer of options.expectedExitLayers ?? []) {
    if (heads[layer] === undefined) {
      const tensor =
        exitLayout === 'pabee' ? `classifiers.${layer}.weight` : `${prefix}encoder.highway.${layer}.classifier.weight`;
      throw new MissingTensorError(
        `config.json lists layer ${layer} in early_exit_layers, but ${file.path} has no exit head for it ` +
          `(expected tensor "${tensor}"). Fix early_exit_layers or use the matching weights.`,
        { file: file.path, tensor },
      );
    }
  }

  return finish({ embeddings, layers, heads }, exitLayout, exitLayers(heads));
}
