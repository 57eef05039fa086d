/**
 * What a shard computes. A plan is a set of these; each compiles to one ONNX model.
 * Layers are 0-based; ranges are half-open [start, end).
 */
export type ShardSpec =
  /** token ids → embedded hidden state */
  | { kind: 'embeddings' }
  /** full encoder layers [start, end); optionally each layer's exit logits and received attention */
  | { kind: 'layers'; start: number; end: number; exitLogits?: boolean; attentionReceived?: boolean }
  /** one layer's attention restricted to some heads: the partial output-projection sum */
  | { kind: 'attention-partial'; layer: number; heads: number[]; attentionReceived?: boolean }
  /** LayerNorm(hidden + Σ attention partials + bias) */
  | { kind: 'attention-combine'; layer: number }
  /** one layer's FFN restricted to some intermediate columns: the partial sum */
  | { kind: 'ffn-partial'; layer: number; columns: number[] }
  /** LayerNorm(attention output + Σ FFN partials + bias) */
  | { kind: 'ffn-combine'; layer: number }
  /**
   * position-parallel groups: one layer's keys and values of the given positions, [batch, n, 2 · heads · headSize]
   * (keys, then values; with their biases), which the members exchange
   */
  | { kind: 'keys-values'; layer: number }
  /**
   * position-parallel groups: one whole layer for some positions (queries), attending to every position's keys and
   * values; also each key's context contribution from these queries (token pruning's score, summed over members)
   */
  | { kind: 'position-layer'; layer: number }
  /** the classifier head evaluated on layer `layer`'s output (an exit, or the final head); with the exit's halting logit when the checkpoint has units */
  | { kind: 'head'; layer: number }
  /** the whole model in one graph: token ids → final logits (and every exit's logits when asked) */
  | { kind: 'monolithic'; exitLogits?: boolean };

/** Tensor names on shard boundaries; the runtime feeds and reads these. */
export const IO = {
  inputIds: 'input_ids',
  tokenTypeIds: 'token_type_ids',
  attentionMask: 'attention_mask',
  hidden: 'hidden',
  partialSum: 'partial_sum',
  hiddenOut: 'hidden_out',
  partial: 'partial',
  logits: 'logits',
  /** head shards of checkpoints with DACT halting units: the unit's logit, [batch, 1] */
  haltingLogit: 'halting_logit',
  attentionReceived: 'attention_received',
  /** parameter-shared (ALBERT) layer and combine shards: the ODE step size β, float32 [1] (1 = the ordinary model) */
  stepSize: 'step_size',
  /** keys-values output and position-layer input: every position's keys then values, [batch, seq, 2 · heads · headSize] */
  keysValues: 'keys_values',
  /** position-layer input: the sequence position of the first query row, int64 [1] */
  queryOffset: 'query_offset',
  exitLogits: (layer: number): string => `exit_logits_${layer}`,
  attentionReceivedAt: (layer: number): string => `attention_received_${layer}`,
} as const;

export function describeShard(spec: ShardSpec): string {
  switch (spec.kind) {
    case 'embeddings':
      return 'embeddings';
    case 'layers':
      return `layers ${spec.start}-${spec.end - 1}`;
    case 'attention-partial':
      return `layer ${spec.layer} attention heads [${spec.heads.join(',')}]`;
    case 'attention-combine':
      return `layer ${spec.layer} attention combine`;
    case 'ffn-partial':
      return `layer ${spec.layer} ffn columns ${summariseIndices(spec.columns)}`;
    case 'ffn-combine':
      return `layer ${spec.layer} ffn combine`;
    case 'keys-values':
      return `layer ${spec.layer} keys and values`;
    case 'position-layer':
      return `layer ${spec.layer} on some positions`;
    case 'head':
      return `head at layer ${spec.layer}`;
    case 'monolithic':
      return 'monolithic model';
  }
}

function summariseIndices(indices: number[]): string {
  if (indices.length === 0) return '[]';
  const contiguous = indices.every((v, i) => i === 0 || v === indices[i - 1]! + 1);
  return contiguous ? `[${indices[0]}..${indices[indices.length - 1]}]` : `${indices.length} columns`;
}
