/**
 * DistilBERT (transformers/models/distilbert/modeling_distilbert.py): Embeddings = word + position + LayerNorm (no
 * token types; sinusoidal tables are stored as weights too), TransformerBlock = post-LN attention (q_lin, k_lin,
 * v_lin, out_lin, sa_layer_norm) and FFN (lin1, activation, lin2, output_layer_norm), the same arithmetic as a
 * BERT layer; DistilBertForSequenceClassification = pre_classifier + ReLU + classifier on token 0.
 */
import type { EncoderLayerWeights } from './types.js';
import { headSize, headsInLayer } from './pruned-heads.js';
import { familyResult, mapFamilyHeads, type FamilyMapped, type FamilyTensors } from './family-weights.js';
import type { MapWeightsOptions } from './weights.js';

export function mapDistilBertWeights(t: FamilyTensors, options: MapWeightsOptions): FamilyMapped {
  const { config, get, linear, layerNorm } = t;
  const H = config.hiddenSize;
  const e = `${t.prefix}embeddings`;
  const embeddings = {
    word: get(`${e}.word_embeddings.weight`, [config.vocabSize, H]),
    position: get(`${e}.position_embeddings.weight`, [config.maxPositions, H]),
    // No token types: one all-zero row, so every token type id 0 adds nothing (the graph ignores the ids).
    tokenType: { shape: [1, H], data: new Float32Array(H) },
    layerNorm: layerNorm(`${e}.LayerNorm`),
  };
  const layers: EncoderLayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const b = `${t.prefix}transformer.layer.${i}`;
    const width = headsInLayer(config, i) * headSize(config);
    layers.push({
      query: linear(`${b}.attention.q_lin`, width, H),
      key: linear(`${b}.attention.k_lin`, width, H),
      value: linear(`${b}.attention.v_lin`, width, H),
      attentionOutput: linear(`${b}.attention.out_lin`, H, width),
      attentionLayerNorm: layerNorm(`${b}.sa_layer_norm`),
      intermediate: linear(`${b}.ffn.lin1`, config.intermediateSize, H),
      output: linear(`${b}.ffn.lin2`, H, config.intermediateSize),
      outputLayerNorm: layerNorm(`${b}.output_layer_norm`),
    });
  }
  const heads = mapFamilyHeads(t, { dense: 'pre_classifier', out: 'classifier' }, options);
  return familyResult(embeddings, layers, heads);
}
