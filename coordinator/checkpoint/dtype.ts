/**
 * Element types of safetensors files and conversions to/from float32.
 * Node 20 has no Float16Array, so half precision is converted by hand here.
 */

/** Bytes per element of every dtype the safetensors format defines (sub-byte F4/F6 types excluded). */
export const DTYPE_SIZES: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
});

/** Dtypes we convert to float32. */
export const FLOAT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'F64'];

/** Dtypes the writer produces. */
export type WritableDtype = 'F32' | 'F16' | 'BF16';

import { getHalfTable, halfToFloat, floatToHalf } from '@edgerelay/proto';

export { halfToFloat, floatToHalf };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 bit pattern → bfloat16 bit pattern, round to nearest even. */
function float32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Decode little-endian `bytes` of a float dtype to float32. F32 data that is 4-byte aligned is
 * returned as a view sharing memory with `bytes` (no copy); everything else is a fresh array.
 * Returns undefined for a dtype that is not a float type we support.
 */
export function decodeFloat32(bytes: Uint8Array, dtype: string): Float32Array | undefined {
  const { buffer, byteOffset, byteLength } = bytes;
  switch (dtype) {
    case 'F32': {
      const n = byteLength / 4;
      if (LITTLE_ENDIAN && byteOffset % 4 === 0) return new Float32Array(buffer, byteOffset, n);
      const out = new Float32Array(n);
      const dv = new DataView(buffer, byteOffset, byteLength);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    }
    case 'F16': {
      const n = byteLength / 2;
      const out = new Float32Array(n);
      const table = getHalfTable();
      for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = table[bytes[j]! | (bytes[j + 1]! << 8)]!;
      return out;
    }
    case 'BF16': {
      const n = byteLength / 2;
      const out = new Float32Array(n);
      if (LITTLE_ENDIAN) {
        const bits = new Uint32Array(out.buffer);
        for (let i = 0, j = 0; i < n; i++, j += 2) bits[i] = ((bytes[j]! | (bytes[j + 1]! << 8)) << 16) >>> 0;
      } else {
        const dv = new DataView(out.buffer);
        for (let i = 0, j = 0; i < n; i++, j += 2) dv.setUint32(i * 4, (bytes[j]! | (bytes[j + 1]! << 8)) << 16, true);
      }
      return out;
    }
    case 'F64': {
      const n = byteLength / 8;
      const out = new Float32Array(n);
      if (LITTLE_ENDIAN && byteOffset % 8 === 0) {
        out.set(new Float64Array(buffer, byteOffset, n)); // set() rounds each double to float32
      } else {
        const dv = new DataView(buffer, byteOffset, byteLength);
        for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** Encode float32 values as little-endian bytes of `dtype`. F32 on little-endian hosts is a view, not a copy. */
export function encodeFloat32(data: Float32Array, dtype: WritableDtype): Uint8Array {
  const n = data.length;
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const out = new Uint8Array(n * 4);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < n; i++) dv.setFloat32(i * 4, data[i]!, true);
    return out;
  }
  const out = new Uint8Array(n * 2);
  if (dtype === 'F16') {
    for (let i = 0, j = 0; i < n; i++, j += 2) {
      const h = floatToHalf(data[i]!);
      out[j] = h & 0xff;
      out[j + 1] = h >>> 8;
    }
    return out;
  }
  // BF16: read float32 bit patterns through a Uint32 view (a Float32Array is always 4-byte aligned).
  const bits = LITTLE_ENDIAN ? new Uint32Array(data.buffer, data.byteOffset, n) : undefined;
  for (let i = 0, j = 0; i < n; i++, j += 2) {
    let x: number;
    if (bits) x = bits[i]!;
    else {
      f32Scratch[0] = data[i]!;
      x = u32Scratch[0]!;
    }
    const b = float32BitsToBf16(x);
    out[j] = b & 0xff;
    out[j + 1] = b >>> 8;
  }
  return out;
}
