export { compileShard, ShardSpecError, type CompilableModel, type CompileOptions } from './compile.js';
export { describeShard, IO, type ShardSpec } from '@edgerelay/proto';
export { GraphBuilder, OPSET } from './graph-builder.js';
export { range } from './weight-slices.js';
export { compileMaskedLayer, HEAD_MASK_INPUT } from './masked-layer.js';
