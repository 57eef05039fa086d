// @edgerelay/proto: the contracts both sides of the wire speak. Depends on nothing of edgerelay.
export * from './control.js';
export { SESSION_METADATA } from './control.js';
// The compiler's shard description (what a shard computes) is `ShardSpec`; its gRPC message form,
// which travels in assignments, is `ShardSpecMessage`.
export type { ShardSpec as ShardSpecMessage, ShardSpec__Output as ShardSpecMessage__Output } from './messages.js';
export { IO, describeShard, type ShardSpec } from './shard-spec.js';
export * from './frames.js';
export * from './ode-steps.js';
export * from './group-form.js';
export * from './errors.js';
export * from './data-plane/link.js';
export * from './data-plane/limits.js';
export * from './data-plane/tls.js';
export * from './security/proofs.js';
export * from './tensors/float16.js';
export * from './tensors/host-tensor.js';
export * from './tensors/wire.js';
export * from './tensors/int8.js';
