/**
 * ELECTRA discriminator (transformers/models/electra/modeling_electra.py): ElectraEmbeddings of embedding_size
 * (word, position, token type, LayerNorm), then electra.embeddings_project (embedding_size → hidden_size) when the
 * two differ, BERT-named encoder layers; ElectraClassificationHead = classifier.dense + gelu + classifier.out_proj
 * on token 0. The projection sits in ALBERT's slot (after the LayerNorm), which is where ElectraModel.forward
 * applies it.
 */
import { familyResult, mapFamilyHeads, type FamilyMapped, type FamilyTensors } from './family-weights.js';
import { bertNamedEmbeddings, bertNamedLayers } from './roberta-weights.js';
import type { MapWeightsOptions } from './weights.js';

export function mapElectraWeights(t: FamilyTensors, options: MapWeightsOptions): FamilyMapped {
  const H = t.config.hiddenSize;
  const E = t.config.embeddingSize;
  const embeddings = bertNamedEmbeddings(t, E ?? H);
  const projection = E === undefined ? undefined : t.linear(`${t.prefix}embeddings_project`, H, E);
  const layers = bertNamedLayers(t);
  const heads = mapFamilyHeads(t, { dense: 'classifier.dense', out: 'classifier.out_proj' }, options);
  return familyResult(projection ? { ...embeddings, projection } : embeddings, layers, heads);
}
