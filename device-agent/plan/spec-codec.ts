import { AssignmentError } from '../errors.js';
import type { ShardSpec } from '@edgerelay/proto';
import type { ShardSpecMessage, ShardSpecMessage__Output as ShardSpecOutput } from '@edgerelay/proto';

/** ShardSpec ↔ its protobuf message (proto/control.proto). */
export function specToMessage(spec: ShardSpec): ShardSpecMessage {
  switch (spec.kind) {
    case 'embeddings':
      return { kind: spec.kind };
    case 'layers':
      return {
        kind: spec.kind,
        start: spec.start,
        end: spec.end,
        exitLogits: !!spec.exitLogits,
        attentionReceived: !!spec.attentionReceived,
      };
    case 'attention-partial':
      return { kind: spec.kind, layer: spec.layer, heads: spec.heads, attentionReceived: !!spec.attentionReceived };
    case 'ffn-partial':
      return { kind: spec.kind, layer: spec.layer, columns: spec.columns };
    case 'attention-combine':
    case 'ffn-combine':
    case 'keys-values':
    case 'position-layer':
    case 'head':
      return { kind: spec.kind, layer: spec.layer };
    case 'monolithic':
      return { kind: spec.kind, exitLogits: !!spec.exitLogits };
  }
}

export function specFromMessage(m: ShardSpecOutput): ShardSpec {
  switch (m.kind) {
    case 'embeddings':
      return { kind: 'embeddings' };
    case 'layers':
      return {
        kind: 'layers',
        start: m.start,
        end: m.end,
        exitLogits: m.exitLogits,
        attentionReceived: m.attentionReceived,
      };
    case 'attention-partial':
      return { kind: 'attention-partial', layer: m.layer, heads: [...m.heads], attentionReceived: m.attentionReceived };
    case 'ffn-partial':
      return { kind: 'ffn-partial', layer: m.layer, columns: [...m.columns] };
    case 'attention-combine':
    case 'ffn-combine':
    case 'keys-values':
    case 'position-layer':
    case 'head':
      return { kind: m.kind, layer: m.layer };
    case 'monolithic':
      return { kind: 'monolithic', exitLogits: m.exitLogits };
    default:
      throw new AssignmentError(`unknown shard kind "${m.kind}" in assignment`);
  }
}
