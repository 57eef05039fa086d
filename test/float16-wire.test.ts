import assert from 'node:assert/strict';
import { float32ToHalfBits, floatToHalf, halfToFloat } from '../proto/tensors/float16.js';

/** Float32 values from raw bit patterns. */
function fromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

function assertSameAsPerValue(values: Float32Array, what: string): void {
  const fast = float32ToHalfBits(values);
  for (let i = 0; i < values.length; i++) {
    const expected = floatToHalf(values[i]!);
    if (fast[i] !== expected)
      assert.fail(`${what}: ${values[i]} → 0x${fast[i]!.toString(16)}, floatToHalf says 0x${expected.toString(16)}`);
  }
}

describe('float16 on the wire: the array encoder rounds exactly as the per-value one', () => {
  it('agrees on every half value, every tie between neighbouring halves and one float32 step either side of it', () => {
    const values: number[] = [];
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    for (let h = 0; h < 0x7c00; h++) {
      for (const sign of [1, -1]) {
        const lo = halfToFloat(h);
        const tie = (lo + halfToFloat(h + 1)) / 2; // exact in float32: halves have 11 significant bits
        values.push(sign * lo);
        f32[0] = sign * tie;
        const t = u32[0]!;
        values.push(f32[0]!);
        u32[0] = t - 1;
        values.push(f32[0]!);
        u32[0] = t + 1;
        values.push(f32[0]!);
      }
    }
    assertSameAsPerValue(Float32Array.from(values), 'halves and ties');
  });

  it('agrees on a million random float32 bit patterns: subnormals, overflow, infinities and NaNs included', () => {
    let s = 12345;
    const bits = Array.from({ length: 1_000_000 }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s;
    });
    assertSameAsPerValue(fromBits(bits), 'random bits');
    assertSameAsPerValue(Float32Array.of(0, -0, 65504, 65519, 65520, 1e6, -1e6, Infinity, -Infinity, NaN), 'edges');
  });

  it('reads a Float32Array that is a view into a larger buffer at its own offset', () => {
    const whole = Float32Array.of(1, 2, 3, 4);
    assert.deepEqual([...float32ToHalfBits(whole.subarray(1, 3))], [floatToHalf(2), floatToHalf(3)]);
  });
});
