/** Graph pieces for layers that lost attention heads to pruning (Hugging Face's pruned_heads). */
import type { BertConfig, EncoderLayerWeights } from '../checkpoint/types.js';
import type { GraphBuilder } from './graph-builder.js';
import type { AttentionPartial } from './bert-emitters.js';
import { keptHeads } from '../checkpoint/pruned-heads.js';

/**
 * A share of a layer's heads, given by original index (what plans list, so one list serves every layer of
 * a stage), as the layer's own head positions: heads pruned from the layer drop out.
 */
export function localHeads(config: BertConfig, layer: number, heads: number[]): number[] {
  if (!config.prunedHeads?.[layer]?.length) return heads;
  const kept = keptHeads(config, layer);
  return heads.flatMap((h) => {
    const local = kept.indexOf(h);
    return local < 0 ? [] : [local];
  });
}

/** Heads a layer computes, read from its weights: query rows / head size (head size = hidden / numHeads). */
export function layerHeadCount(w: EncoderLayerWeights, config: BertConfig): number {
  return w.query.weight.shape[0]! / (config.hiddenSize / config.numHeads);
}

/**
 * A layer with every head removed: attention adds nothing but its output bias (added by the combine), so the
 * partial is zero; what each token "receives" is zero too. Derived from `hidden` so the shapes follow it.
 */
export function emitNoHeads(g: GraphBuilder, hidden: string, withReceived: boolean): AttentionPartial {
  const partial = g.op('Mul', [hidden, g.scalar('zero_f', 0)]);
  if (!withReceived) return { partial };
  const received = g.op('ReduceSum', [partial, g.int64s('hidden_axis', [2])], { keepdims: { int: 0 } });
  return { partial, received };
}
