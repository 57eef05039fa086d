/** Parameter sharing (ALBERT) in the compiler: what a layer slot applies, and graph names without the slot. */
import type { BertConfig, BertWeights, EncoderLayerWeights } from '../checkpoint/types.js';
import { albertGroupOf } from '../checkpoint/albert-config.js';
import type { ShardSpec } from '@edgerelay/proto';

/** The encoder layers slot `layer` applies in turn: one for BERT, the group's inner layers for ALBERT. */
export function slotLayers(weights: BertWeights, layer: number): EncoderLayerWeights[] {
  return weights.innerLayers?.[layer] ?? [weights.layers[layer]!];
}

/**
 * For a parameter-shared model, the graph name of a one-slot shard names the layer group instead of the slot,
 * so the shards of every slot of a group are byte-identical: shipped, cached and loaded once per device.
 * Undefined when the name should stay the slot's (BERT, multi-slot ranges, heads, embeddings).
 */
export function sharedGraphName(config: BertConfig, spec: ShardSpec): string | undefined {
  const albert = config.albert;
  if (!albert) return undefined;
  const group = (layer: number) => `shared group ${albertGroupOf(layer, config.numLayers, albert.numHiddenGroups)}`;
  switch (spec.kind) {
    case 'layers':
      if (spec.end - spec.start !== 1 || spec.exitLogits) return undefined;
      return `${group(spec.start)} layer${spec.attentionReceived ? ' with received attention' : ''}`;
    case 'attention-partial':
      return `${group(spec.layer)} attention heads [${spec.heads.join(',')}]${spec.attentionReceived ? ' received' : ''}`;
    case 'ffn-partial':
      return `${group(spec.layer)} ffn ${spec.columns.length} columns from ${spec.columns[0]}`;
    case 'attention-combine':
    case 'ffn-combine':
      return `${group(spec.layer)} ${spec.kind}`;
    default:
      return undefined;
  }
}
