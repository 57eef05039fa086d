export { ShardSession, type RunStretch, type SessionOptions } from './session.js';
export { float32Tensor, int64Tensor, numel, sumFloat32, type HostTensor } from './tensor.js';
export { toWire, fromWire } from './wire.js';
export { float32ToHalfBits, halfBitsToFloat32 } from './float16.js';
