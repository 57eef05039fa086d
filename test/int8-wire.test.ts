import assert from 'node:assert/strict';
import {
  INT8_ROW_ERROR_BOUND,
  decodeFrame,
  dequantizeRows,
  encodeFrame,
  float32Tensor,
  fromWire,
  int64Tensor,
  quantizeRows,
  toWire,
  type FrameOf,
} from '@edgerelay/proto';

/** Deterministic values with BERT-like outliers: most near ±1, a few dimensions 20× larger. */
function hiddenLike(rows: number, width: number, seed = 1): Float32Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const out = new Float32Array(rows * width);
  for (let i = 0; i < out.length; i++) out[i] = rand() * (i % width === 7 ? 20 : 1);
  return out;
}

describe('int8 wire dtype (per-row scale)', () => {
  it('round-trips every value within 1/254 of its row’s largest magnitude', () => {
    const width = 256;
    const data = hiddenLike(12, width);
    const back = fromWire(toWire(float32Tensor(data, [1, 12, width]), 'int8')).data as Float32Array;
    let worstRatio = 0;
    for (let r = 0; r < 12; r++) {
      const row = data.subarray(r * width, (r + 1) * width);
      const max = Math.max(...Array.from(row, Math.abs));
      for (let i = 0; i < width; i++) {
        const err = Math.abs(back[r * width + i]! - row[i]!);
        worstRatio = Math.max(worstRatio, err / max);
      }
    }
    // float32 rounding of the scale and of q · scale adds at most a few ulps on top of the half step.
    assert.ok(worstRatio <= INT8_ROW_ERROR_BOUND * (1 + 1e-5), `worst error ${worstRatio} of the row maximum`);
    // ...and the bound is not vacuous: quantisation really does move values by up to about half a step.
    assert.ok(worstRatio > INT8_ROW_ERROR_BOUND * 0.5, `worst error ${worstRatio} suspiciously small`);
  });

  it('keeps each row’s largest value exactly and an all-zero row at zero', () => {
    const data = Float32Array.from([0, 0, 0, 0, 3, -6, 1.5, 0.001]);
    const q = quantizeRows(data, 4);
    const back = dequantizeRows(q.values, q.scales, 4);
    assert.deepEqual(Array.from(back.subarray(0, 4)), [0, 0, 0, 0]);
    assert.equal(back[5], -6);
    assert.equal(q.values[5], -127);
  });

  it('turns a row with a NaN or an infinity into NaN instead of plausible numbers, and leaves other rows alone', () => {
    const data = Float32Array.from([1, Infinity, 2, 3, 1, 2, NaN, 4, 1, 2, 3, 4]);
    const q = quantizeRows(data, 4);
    const back = dequantizeRows(q.values, q.scales, 4);
    assert.ok(Array.from(back.subarray(0, 8)).every(Number.isNaN));
    assert.ok(Array.from(back.subarray(8)).every((v, i) => Math.abs(v - [1, 2, 3, 4][i]!) <= 4 / 254));
  });

  it('travels in a data-plane frame at about a quarter of the float32 bytes, scales included', () => {
    const dims = [1, 64, 256];
    const hidden = float32Tensor(hiddenLike(64, 256, 3), dims);
    const frame = (dtype: 'float32' | 'int8'): FrameOf<'scatter'> => ({
      type: 'scatter',
      requestId: 'r1',
      planVersion: 1,
      layer: 0,
      part: 'attention',
      hidden: toWire(hidden, dtype),
      attentionMask: toWire(int64Tensor(new BigInt64Array(64).fill(1n), [1, 64])),
    });
    const f32 = encodeFrame(frame('float32'));
    const i8 = encodeFrame(frame('int8'));
    const ratio = i8.byteLength / f32.byteLength;
    assert.ok(ratio > 0.25 && ratio < 0.27, `int8 / float32 frame bytes ${ratio}`);
    const decoded = decodeFrame(i8) as FrameOf<'scatter'>;
    assert.equal(decoded.hidden.dtype, 'int8');
    const want = fromWire(frame('int8').hidden).data as Float32Array;
    assert.deepEqual(fromWire(decoded.hidden).data, want);
  });

  it('refuses an int8 tensor without one scale per row, and scales on a float tensor', () => {
    const good = toWire(float32Tensor(hiddenLike(4, 8), [1, 4, 8]), 'int8');
    const mask = toWire(int64Tensor(new BigInt64Array(4).fill(1n), [1, 4]));
    const scatter = (hidden: unknown) =>
      encodeFrame({
        type: 'scatter',
        requestId: 'r1',
        planVersion: 1,
        layer: 0,
        part: 'ffn',
        hidden,
        attentionMask: mask,
      } as FrameOf<'scatter'>);
    assert.doesNotThrow(() => decodeFrame(scatter(good)));
    const { scales, ...noScales } = good;
    assert.ok(scales);
    assert.throws(() => decodeFrame(scatter(noScales)), /one float32 scale per row/);
    assert.throws(() => decodeFrame(scatter({ ...good, scales: scales.slice(4) })), /one float32 scale per row/);
    const f32 = toWire(float32Tensor(hiddenLike(4, 8), [1, 4, 8]));
    assert.throws(() => decodeFrame(scatter({ ...f32, scales })), /only an int8 tensor has scales/);
  });
});
