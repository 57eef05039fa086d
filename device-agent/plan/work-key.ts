import type { ShardSpec } from '@edgerelay/proto';

/**
 * What a shard computes, without which layer it belongs to: shards with the same key do the same work
 * (emulation times them as one, runtime/session.ts). The size, in 16 KiB steps, tells apart what the spec
 * does not say: a layer with pruned heads, an int8 shard; layer names inside it move it by a few bytes.
 */
export function workKeyOf(spec: ShardSpec, bytes: number): string {
  const size = Math.round(bytes / 16384);
  switch (spec.kind) {
    case 'layers':
      return `layers×${spec.end - spec.start}${spec.exitLogits ? '+exits' : ''}${spec.attentionReceived ? '+scores' : ''}:${size}`;
    case 'attention-partial':
      return `attention-partial×${spec.heads.length}${spec.attentionReceived ? '+scores' : ''}:${size}`;
    case 'ffn-partial':
      return `ffn-partial×${spec.columns.length}:${size}`;
    case 'monolithic':
      return `monolithic${spec.exitLogits ? '+exits' : ''}:${size}`;
    default:
      return `${spec.kind}:${size}`;
  }
}
