/** The two statistics of a probability vector the policies read. */

/** H(p) / log C in [0, 1] (clamped against rounding); 0 for a single class. */
export function normalisedEntropy(probs: number[]): number {
  if (probs.length < 2) return 0;
  let h = 0;
  for (const p of probs) if (p > 0) h -= p * Math.log(p);
  return Math.min(1, h / Math.log(probs.length));
}

/** Probabilities from logits, shifted by the maximum so large logits do not overflow. */
export function softmax(logits: ArrayLike<number>): number[] {
  const values = Array.from(logits);
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** Index of the largest value; ties go to the lower index. */
export function argmaxOf(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** The logistic function in float64; exact 0 and 1 at −∞ and +∞ (a pinned halting unit). */
export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}
