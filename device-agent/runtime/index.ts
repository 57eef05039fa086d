export { ShardSession, type RunStretch, type SessionOptions } from './session.js';
export { ComputeThread } from './compute-thread.js';
export { float32Tensor, int64Tensor, numel, sumFloat32, type HostTensor } from '@edgerelay/proto';
export { toWire, fromWire } from '@edgerelay/proto';
export { float32ToHalfBits, halfBitsToFloat32 } from '@edgerelay/proto';
