/**
 * Michel et al.'s head importance, I_h = E_x |∂L(x)/∂ξ_h| at ξ = 1, where ξ_h scales head h's attention
 * (the head mask) and L is the cross-entropy of the model's answer: against the gold label when the rows
 * are labelled, else against the unpruned model's own answer. The derivative is taken by a one-sided
 * finite difference (ξ_h = 1 − ε), one evaluation per head, each reusing the cached states below its layer.
 * Scores are normalised to unit L2 norm within each layer, as Michel et al. do.
 */
import type { HeadMaskEvaluator } from './evaluator.js';

const EPSILON = 1e-2;

export async function headImportance(
  evaluator: HeadMaskEvaluator,
  headCounts: number[],
  numLabels: number,
  targets: number[],
  baseLogits: Float32Array,
  onHead?: (done: number, total: number) => void,
): Promise<number[]> {
  const total = headCounts.reduce((a, b) => a + b, 0);
  const baseLoss = rowLosses(baseLogits, numLabels, targets);
  const scores: number[] = [];
  for (let h = 0; h < total; h++) {
    const mask = new Float32Array(total).fill(1);
    mask[h] = 1 - EPSILON;
    const loss = rowLosses(await evaluator.logits(mask), numLabels, targets);
    let sum = 0;
    for (let r = 0; r < loss.length; r++) sum += Math.abs(baseLoss[r]! - loss[r]!) / EPSILON;
    scores.push(loss.length ? sum / loss.length : 0);
    onHead?.(h + 1, total);
  }
  // Per-layer L2 normalisation.
  let offset = 0;
  for (const count of headCounts) {
    const layer = scores.slice(offset, offset + count);
    const norm = Math.sqrt(layer.reduce((s, v) => s + v * v, 0));
    if (norm > 0) for (let i = 0; i < count; i++) scores[offset + i]! /= norm;
    offset += count;
  }
  return scores;
}

/** Cross-entropy of each row's logits against its target class. */
export function rowLosses(logits: Float32Array, numLabels: number, targets: number[]): Float64Array {
  const out = new Float64Array(targets.length);
  for (let r = 0; r < targets.length; r++) {
    const row = logits.subarray(r * numLabels, (r + 1) * numLabels);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    out[r] = Math.log(sum) + max - row[targets[r]!]!;
  }
  return out;
}
