/**
 * Keeping the top-k tokens of each sequence: the gather a stage host (or the reference runner) does
 * between two layers. Kept rows stay in their original order; [CLS] (the first real row) and [SEP]
 * (the last) are always kept; padding rows never count and are refilled at the end of the new batch.
 */
import type { HostTensor } from '../runtime/index.js';

/**
 * Rows to keep, ascending, among `real` (a sequence's real row indices, ascending): the first and last
 * always, then the highest `score` until there are k; ties go to the earlier row, so the choice is a
 * pure function of the scores.
 */
export function selectTokens(real: readonly number[], score: (row: number) => number, k: number): number[] {
  if (k >= real.length) return [...real];
  const ends = real.length > 1 ? [real[0]!, real[real.length - 1]!] : [real[0]!];
  const rest = real.slice(1, -1).sort((a, b) => score(b) - score(a) || a - b);
  return [...ends, ...rest.slice(0, Math.max(0, k - ends.length))].sort((a, b) => a - b);
}

export interface PrunedBatch {
  /** [batch, maxKept, hidden]: each sequence's kept rows first, zero padding after. */
  hidden: HostTensor;
  /** [batch, maxKept] int64: 1 for kept rows, 0 for padding. */
  mask: HostTensor;
  /** kept[b]: the input rows of sequence b that were kept, ascending. */
  kept: number[][];
}

/** The real rows of each sequence of a [batch, seq] 0/1 mask. */
export function realRows(mask: HostTensor): number[][] {
  const [batch = 0, seq = 0] = mask.dims;
  return Array.from({ length: batch }, (_, b) => {
    const rows: number[] = [];
    for (let s = 0; s < seq; s++) if (Number(mask.data[b * seq + s]) === 1) rows.push(s);
    return rows;
  });
}

/**
 * Keeps targets[b] rows of sequence b by `scores` ([batch, seq], higher = more important). Returns
 * undefined when every sequence keeps all its real rows and the batch has no spare padding, so the
 * caller goes on with its tensors untouched (bit-identical to not pruning).
 */
export function pruneBatch(
  hidden: HostTensor,
  mask: HostTensor,
  scores: ArrayLike<number>,
  targets: readonly number[],
): PrunedBatch | undefined {
  const [batch = 0, seq = 0, width = 0] = hidden.dims;
  const real = realRows(mask);
  const kept = real.map((rows, b) => selectTokens(rows, (s) => scores[b * seq + s]!, targets[b]!));
  const newSeq = Math.max(1, ...kept.map((k) => k.length));
  const unchanged = newSeq === seq && kept.every((k, b) => k.length === real[b]!.length && k.every((r, i) => r === i));
  if (unchanged) return undefined;
  const src = hidden.data as Float32Array;
  const out = new Float32Array(batch * newSeq * width);
  const outMask = new BigInt64Array(batch * newSeq);
  kept.forEach((rows, b) => {
    rows.forEach((row, i) => {
      const from = (b * seq + row) * width;
      out.set(src.subarray(from, from + width), (b * newSeq + i) * width);
      outMask[b * newSeq + i] = 1n;
    });
  });
  return {
    hidden: { dtype: 'float32', dims: [batch, newSeq, width], data: out },
    mask: { dtype: 'int64', dims: [batch, newSeq], data: outMask },
    kept,
  };
}
