/** Map Hugging Face ALBERT tensor names onto BertWeights: shared layer groups, factorised embeddings, PABEE exits. */
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
import { albertGroupOf } from './albert-config.js';
import type { MappedWeights, MapWeightsOptions } from './weights.js';

/** Prefix of the encoder's tensor names: "albert." for AlbertFor* heads, "" for a bare AlbertModel. */
export function albertPrefix(file: SafetensorsFile): string {
  return file.names().some((n) => n.startsWith('albert.embeddings.')) ? 'albert.' : '';
}

type Getter = (name: string, shape: number[]) => Tensor;

export function mapAlbertWeights(
  file: SafetensorsFile,
  config: BertConfig,
  get: Getter,
  options: MapWeightsOptions = {},
): Omit<MappedWeights, 'unusedTensors' | 'sourceDtype'> & { ignored: string[] } {
  const albert = config.albert!;
  const H = config.hiddenSize;
  const E = albert.embeddingSize;
  const L = config.numLayers;
  const prefix = albertPrefix(file);
  const names = file.names();
  const ignored: string[] = [];
  const linear = (base: string, out: number, inp: number): LinearWeights => ({
    weight: get(`${base}.weight`, [out, inp]),
    bias: get(`${base}.bias`, [out]),
  });
  const layerNorm = (base: string, width = H): LayerNormWeights => ({
    weight: get(`${base}.weight`, [width]),
    bias: get(`${base}.bias`, [width]),
  });

  const e = `${prefix}embeddings`;
  const embeddings: EmbeddingWeights = {
    word: get(`${e}.word_embeddings.weight`, [config.vocabSize, E]),
    position: get(`${e}.position_embeddings.weight`, [config.maxPositions, E]),
    tokenType: get(`${e}.token_type_embeddings.weight`, [config.typeVocabSize, E]),
    layerNorm: layerNorm(`${e}.LayerNorm`, E),
    projection: linear(`${prefix}encoder.embedding_hidden_mapping_in`, H, E),
  };

  // Each group's inner layers are read once; every slot of the group references the same objects.
  const groups: EncoderLayerWeights[][] = [];
  for (let gi = 0; gi < albert.numHiddenGroups; gi++) {
    const inner: EncoderLayerWeights[] = [];
    for (let j = 0; j < albert.innerGroupNum; j++) {
      const b = `${prefix}encoder.albert_layer_groups.${gi}.albert_layers.${j}`;
      inner.push({
        query: linear(`${b}.attention.query`, H, H),
        key: linear(`${b}.attention.key`, H, H),
        value: linear(`${b}.attention.value`, H, H),
        attentionOutput: linear(`${b}.attention.dense`, H, H),
        attentionLayerNorm: layerNorm(`${b}.attention.LayerNorm`),
        intermediate: linear(`${b}.ffn`, config.intermediateSize, H),
        output: linear(`${b}.ffn_output`, H, config.intermediateSize),
        outputLayerNorm: layerNorm(`${b}.full_layer_layer_norm`),
      });
    }
    groups.push(inner);
  }
  const innerLayers = Array.from({ length: L }, (_, l) => groups[albertGroupOf(l, L, albert.numHiddenGroups)]!);
  const layers = innerLayers.map((inner) => inner[0]!);

  const heads: (ClassifierHeadWeights | undefined)[] = new Array<ClassifierHeadWeights | undefined>(L).fill(undefined);
  let exitLayout: ExitLayout = 'none';
  const pooler = `${prefix}pooler`;
  const C = config.numLabels;
  if (config.architecture === 'AlbertModel') {
    for (const n of [`${pooler}.weight`, `${pooler}.bias`]) if (file.has(n)) ignored.push(n);
  } else {
    // PABEE exits on ALBERT: classifiers.{i} after application i share albert.pooler; the last exit is the
    // stock classifier (as the fixture stores it), or classifiers.{L-1} as in the original PABEE code.
    const shared = linear(pooler, H, H);
    const hasFinal = file.has('classifier.weight') || !names.some((n) => n.startsWith('classifiers.'));
    for (let i = 0; i < L; i++) {
      const isFinal = i === L - 1;
      if (isFinal && hasFinal) {
        heads[i] = { pooler: shared, classifier: linear('classifier', C, H) };
      } else if (file.has(`classifiers.${i}.weight`)) {
        heads[i] = { pooler: shared, classifier: linear(`classifiers.${i}`, C, H) };
        exitLayout = 'pabee';
      } else if (isFinal) {
        linear('classifier', C, H); // throws the missing-tensor error naming it
      }
    }
  }
  for (const layer of options.expectedExitLayers ?? []) {
    if (heads[layer] === undefined) {
      const tensor = `classifiers.${layer}.weight`;
      throw new MissingTensorError(
        `config.json lists layer ${layer} in early_exit_layers, but ${file.path} has no exit head for it ` +
          `(expected tensor "${tensor}"). Fix early_exit_layers or use the matching weights.`,
        { file: file.path, tensor },
      );
    }
  }
  const exitLayers = heads.flatMap((h, i) => (h ? [i] : []));
  return { weights: { embeddings, layers, heads, innerLayers }, exitLayout, exitLayers, ignored };
}
