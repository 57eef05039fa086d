import type { BertConfig, BertWeights } from '../checkpoint/types.js';
import { embed, encoderLayer, linear } from './float64.js';

/**
 * Token pruning written out plainly in float64, one sequence at a time and without padding: the
 * independent reference for the shards' context-contribution output and for the pruned runtime.
 * c_j = Σ_h Σ_{i ≠ j, i real} P_h[i, j]; layer l + 1 runs on the ⌈keep[l+1] · n⌉ best-scored tokens
 * (at least [CLS] and the last token, ties to the earlier position), in their original order.
 */

export interface Float64PrunedRun {
  /** scores[l][b][j]: context contribution of the j-th token layer l ran on (real tokens only, masked batch). */
  scores: number[][][];
  /** positions[l][b]: original positions of the tokens layer l ran on. */
  positions: number[][][];
  /** headLogits[l][b]: logits of the head after layer l (undefined where the layer has none). */
  headLogits: (number[][] | undefined)[];
}

/** Context contribution of every key j from a layer's probabilities [head][query][key], queries `real` only. */
export function contextContributionFloat64(probs: Float64Array[][], real: boolean[]): number[] {
  const S = real.length;
  const out = new Array<number>(S).fill(0);
  for (const head of probs)
    for (let i = 0; i < S; i++) {
      if (!real[i]) continue;
      for (let j = 0; j < S; j++) if (j !== i) out[j]! += head[i]![j]!;
    }
  return out;
}

/**
 * Runs each sequence (token ids + 0/1 mask, padding anywhere after its real tokens) through the
 * model; with `keep` it prunes between layers, without it only records the scores.
 */
export function forwardPrunedFloat64(
  weights: BertWeights,
  config: BertConfig,
  input: { inputIds: number[][]; attentionMask: number[][] },
  keep?: readonly number[],
): Float64PrunedRun {
  const L = config.numLayers;
  const scores: number[][][] = Array.from({ length: L }, () => []);
  const positions: number[][][] = Array.from({ length: L }, () => []);
  const headLogits: (number[][] | undefined)[] = Array.from({ length: L }, (_, l) =>
    weights.heads[l] ? [] : undefined,
  );
  input.inputIds.forEach((ids, b) => {
    const mask = input.attentionMask[b]!;
    let state = embed(
      weights,
      config,
      ids,
      ids.map(() => 0),
    );
    let pos = ids.map((_, i) => i);
    let m = [...mask];
    const n0 = mask.reduce((a, v) => a + v, 0);
    for (let l = 0; l < L; l++) {
      const probs: Float64Array[][] = [];
      state = encoderLayer(weights.layers[l]!, config, state, m, 1, undefined, probs);
      const c = contextContributionFloat64(
        probs,
        m.map((v) => v === 1),
      );
      positions[l]!.push(pos.filter((_, i) => m[i] === 1));
      scores[l]!.push(c.filter((_, i) => m[i] === 1));
      const head = weights.heads[l];
      if (head) {
        const pooled = linear(state[0]!, head.pooler).map(Math.tanh);
        headLogits[l]!.push(Array.from(linear(pooled, head.classifier)));
      }
      if (!keep || l + 1 >= L) continue;
      // From here on only real tokens remain: drop padding, then keep the top k.
      const real = m.flatMap((v, i) => (v === 1 ? [i] : []));
      const k = Math.min(real.length, Math.max(2, Math.ceil(keep[l + 1]! * n0 - 1e-9)));
      const inner = real.slice(1, -1);
      const ranked = [...inner].sort((x, y) => c[y]! - c[x]! || x - y).slice(0, k - 2);
      const kept = [real[0]!, ...ranked, real[real.length - 1]!].sort((x, y) => x - y);
      state = kept.map((i) => state[i]!);
      pos = kept.map((i) => pos[i]!);
      m = kept.map(() => 1);
    }
  });
  return { scores, positions, headLogits };
}
