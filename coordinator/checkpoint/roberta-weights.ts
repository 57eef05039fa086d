/**
 * RoBERTa / XLM-R (transformers/models/roberta/modeling_roberta.py): BERT's embeddings and encoder layers under
 * "roberta.", type_vocab_size 1, no pooler; RobertaClassificationHead = classifier.dense + tanh + classifier.out_proj
 * on <s>. Position ids differ (config.positionIds, computed in the embeddings graph), not the weights.
 */
import type { EncoderLayerWeights } from './types.js';
import { checkAttentionWidth, headSize, headsInLayer } from './pruned-heads.js';
import { familyResult, mapFamilyHeads, type FamilyMapped, type FamilyTensors } from './family-weights.js';
import type { MapWeightsOptions } from './weights.js';

/** BERT-named embeddings (word, position, token type, LayerNorm) of width `width` under `${prefix}embeddings`. */
export function bertNamedEmbeddings(t: FamilyTensors, width: number) {
  const { config, get } = t;
  const e = `${t.prefix}embeddings`;
  return {
    word: get(`${e}.word_embeddings.weight`, [config.vocabSize, width]),
    position: get(`${e}.position_embeddings.weight`, [config.maxPositions, width]),
    tokenType: get(`${e}.token_type_embeddings.weight`, [config.typeVocabSize, width]),
    layerNorm: t.layerNorm(`${e}.LayerNorm`, width),
  };
}

/** BERT-named encoder layers (`${prefix}encoder.layer.N.attention.self.query`, …), pruned heads respected: BERT's and RoBERTa's. */
export function bertNamedLayers(
  t: Pick<FamilyTensors, 'file' | 'config' | 'prefix' | 'linear' | 'layerNorm'>,
): EncoderLayerWeights[] {
  const { config, file, linear, layerNorm } = t;
  const H = config.hiddenSize;
  const layers: EncoderLayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const b = `${t.prefix}encoder.layer.${i}`;
    checkAttentionWidth(file, b, i, config);
    const width = headsInLayer(config, i) * headSize(config);
    layers.push({
      query: linear(`${b}.attention.self.query`, width, H),
      key: linear(`${b}.attention.self.key`, width, H),
      value: linear(`${b}.attention.self.value`, width, H),
      attentionOutput: linear(`${b}.attention.output.dense`, H, width),
      attentionLayerNorm: layerNorm(`${b}.attention.output.LayerNorm`),
      intermediate: linear(`${b}.intermediate.dense`, config.intermediateSize, H),
      output: linear(`${b}.output.dense`, H, config.intermediateSize),
      outputLayerNorm: layerNorm(`${b}.output.LayerNorm`),
    });
  }
  return layers;
}

export function mapRobertaWeights(t: FamilyTensors, options: MapWeightsOptions): FamilyMapped {
  const embeddings = bertNamedEmbeddings(t, t.config.hiddenSize);
  const layers = bertNamedLayers(t);
  const heads = mapFamilyHeads(t, { dense: 'classifier.dense', out: 'classifier.out_proj' }, options);
  return familyResult(embeddings, layers, heads);
}
