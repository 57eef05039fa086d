/** Adam on one exit head, the backbone frozen: minimise KL(final exit's distribution ‖ this head's). The loop itself is shared. */
import { cloneHead, klGradient, klLoss, type HeadParams } from './head.js';

export interface TrainOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
}

export interface TrainResult {
  params: HeadParams;
  /** Mean KL on the training rows before and after. */
  trainBefore: number;
  trainAfter: number;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;

/** x: [N × H] features of this layer; q: [N × C] the teacher's probabilities. `init` is left untouched. */
export function trainHead(init: HeadParams, x: Float32Array, q: Float64Array, options: TrainOptions = {}): TrainResult {
  const params = cloneHead(init);
  const trainBefore = klLoss(params, x, q);
  const { poolerWeight, poolerBias, classifierWeight, classifierBias } = params;
  adamTrain(
    { poolerWeight, poolerBias, classifierWeight, classifierBias },
    q.length / init.classes,
    (rows) => ({ ...klGradient(params, x, q, rows) }),
    { epochs: 6, ...options },
  );
  return { params, trainBefore, trainAfter: klLoss(params, x, q) };
}

export interface AdamOptions extends TrainOptions {
  /** Called after every epoch with (done, total). */
  onEpoch?: (epoch: number, epochs: number) => void;
}

/**
 * Adam (β = 0.9/0.999) over shuffled minibatches of rows 0..n−1, updating `params` in place; `gradient`
 * returns the mean gradient of the objective over the given rows, one array per parameter. Shared by
 * fit-exits (heads) and fit-halting (DACT halting units).
 */
export function adamTrain(
  params: Record<string, Float32Array>,
  n: number,
  gradient: (rows: number[]) => Record<string, Float64Array>,
  options: AdamOptions = {},
): void {
  const epochs = options.epochs ?? 6;
  const batchSize = options.batchSize ?? 32;
  const lr = options.learningRate ?? 1e-3;
  const keys = Object.keys(params);
  const m = Object.fromEntries(keys.map((k) => [k, new Float64Array(params[k]!.length)]));
  const v = Object.fromEntries(keys.map((k) => [k, new Float64Array(params[k]!.length)]));
  const random = lcg(options.seed ?? 0);
  const order = Array.from({ length: n }, (_, i) => i);
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start < n; start += batchSize) {
      const grads = gradient(order.slice(start, start + batchSize));
      step++;
      const c1 = 1 - Math.pow(BETA1, step);
      const c2 = 1 - Math.pow(BETA2, step);
      for (const k of keys) {
        const w = params[k]!;
        const g = grads[k]!;
        const mk = m[k]!;
        const vk = v[k]!;
        for (let i = 0; i < w.length; i++) {
          const gi = g[i]!;
          mk[i] = BETA1 * mk[i]! + (1 - BETA1) * gi;
          vk[i] = BETA2 * vk[i]! + (1 - BETA2) * gi * gi;
          w[i]! -= (lr * (mk[i]! / c1)) / (Math.sqrt(vk[i]! / c2) + EPS);
        }
      }
    }
    options.onEpoch?.(epoch + 1, epochs);
  }
}

/** Deterministic shuffling: a seed gives the same heads on every machine. */
function lcg(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
