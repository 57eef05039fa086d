import type { FloatWireDtype, WireDtype, WireTensor } from '../frames.js';
import { float32ToHalfBits, halfBitsToFloat32 } from './float16.js';
import type { HostTensor } from './host-tensor.js';
import { dequantizeRows, quantizeRows } from './int8.js';

/** The bytes of a typed array as a Uint8Array view (no copy). */
function bytesOf(a: Float32Array | BigInt64Array | Uint16Array | Int8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);
}

/**
 * HostTensor → wire; float32 may travel as float16 to halve the bytes, or as int8 with a float32 scale
 * per row (the last dimension) to quarter them (tensors/int8.ts: error at most 1/254 of the row's largest value).
 */
export function toWire(t: HostTensor, floatDtype: FloatWireDtype = 'float32'): WireTensor {
  if (t.dtype === 'int64') return { dtype: 'int64', shape: [...t.dims], data: bytesOf(t.data) };
  if (floatDtype === 'float16')
    return { dtype: 'float16', shape: [...t.dims], data: bytesOf(float32ToHalfBits(t.data)) };
  if (floatDtype === 'int8') {
    const q = quantizeRows(t.data, t.dims[t.dims.length - 1] ?? 0);
    return { dtype: 'int8', shape: [...t.dims], data: bytesOf(q.values), scales: bytesOf(q.scales) };
  }
  return { dtype: 'float32', shape: [...t.dims], data: bytesOf(t.data) };
}

/** Copies into a fresh, aligned buffer: msgpack hands out views at arbitrary offsets. */
function aligned(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** wire → HostTensor; float16 is widened back to float32 for ONNX Runtime. Frames are validated before this. */
export function fromWire(t: WireTensor): HostTensor {
  const dims = [...t.shape];
  const dtype: WireDtype = t.dtype;
  if (dtype === 'int64') return { dtype: 'int64', dims, data: new BigInt64Array(aligned(t.data)) };
  if (dtype === 'float16') return { dtype: 'float32', dims, data: halfBitsToFloat32(new Uint16Array(aligned(t.data))) };
  if (dtype === 'int8') {
    const scales = new Float32Array(aligned(t.scales ?? new Uint8Array(0)));
    return {
      dtype: 'float32',
      dims,
      data: dequantizeRows(new Int8Array(aligned(t.data)), scales, dims[dims.length - 1] ?? 0),
    };
  }
  return { dtype: 'float32', dims, data: new Float32Array(aligned(t.data)) };
}
