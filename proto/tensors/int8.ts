/**
 * int8 on the wire: symmetric quantisation with one float32 scale per row (the last dimension, a
 * token's hidden vector), like distributed-llama's Q80 but per row rather than per block of 32.
 * A value x in a row whose largest magnitude is m travels as q = round(x / s), s = m / 127, and comes
 * back as q · s: the error is at most s / 2 = m / 254 per value (INT8_ROW_ERROR_BOUND).
 */

/** Largest |x − decoded x| relative to its row's largest |x|: half a quantisation step of m / 127. */
export const INT8_ROW_ERROR_BOUND = 1 / 254;

export interface Int8Rows {
  /** One quantised value per element, row-major. */
  values: Int8Array;
  /** One scale per row (numel / rowLength rows); NaN for a row that held a NaN or an infinity. */
  scales: Float32Array;
}

/**
 * Quantises `data` row by row. A row holding a non-finite value gets a NaN scale, so the whole row
 * decodes as NaN: the damage stays visible downstream instead of being clamped into plausible numbers.
 */
export function quantizeRows(data: Float32Array, rowLength: number): Int8Rows {
  const rows = rowLength > 0 ? data.length / rowLength : 0;
  if (!Number.isInteger(rows)) throw new RangeError(`${data.length} values do not split into rows of ${rowLength}`);
  const values = new Int8Array(data.length);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const start = r * rowLength;
    const end = start + rowLength;
    let max = 0;
    let finite = true;
    for (let i = start; i < end; i++) {
      const a = Math.abs(data[i]!);
      if (!(a <= Number.MAX_VALUE))
        finite = false; // NaN or ±Infinity
      else if (a > max) max = a;
    }
    if (!finite) {
      scales[r] = NaN;
      continue;
    }
    // The scale as stored (float32) is the one both sides use, so rounding it costs no accuracy.
    const scale = Math.fround(max / 127);
    scales[r] = scale;
    if (scale === 0) continue; // an all-zero row (or one of float32 subnormals too small to matter)
    const inv = 1 / scale;
    for (let i = start; i < end; i++) {
      const q = Math.round(data[i]! * inv);
      values[i] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
  return { values, scales };
}

/** The float32 values of quantised rows (q · scale). */
export function dequantizeRows(values: Int8Array, scales: Float32Array, rowLength: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < scales.length; r++) {
    const scale = scales[r]!;
    const start = r * rowLength;
    for (let i = start; i < start + rowLength; i++) out[i] = values[i]! * scale;
  }
  return out;
}
