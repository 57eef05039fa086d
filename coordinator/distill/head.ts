import type { HeadActivation } from '../checkpoint/types.js';
import { erf } from '../reference/float64.js';

/**
 * An exit head (pooler: dense H→H + activation on [CLS], then a linear H→C classifier) as plain arrays,
 * with its forward pass, the distillation loss KL(teacher ‖ head) and that loss's gradient. The activation is
 * the model family's head activation: tanh (BERT, RoBERTa), relu (DistilBERT), gelu (ELECTRA).
 */
export interface HeadParams {
  /** Default 'tanh'. */
  activation?: HeadActivation;
  hidden: number;
  classes: number;
  /** [H × H], Hugging Face's [out, in] layout */
  poolerWeight: Float32Array;
  poolerBias: Float32Array;
  /** [C × H] */
  classifierWeight: Float32Array;
  classifierBias: Float32Array;
}

export function cloneHead(p: HeadParams): HeadParams {
  return {
    hidden: p.hidden,
    classes: p.classes,
    poolerWeight: p.poolerWeight.slice(),
    poolerBias: p.poolerBias.slice(),
    classifierWeight: p.classifierWeight.slice(),
    classifierBias: p.classifierBias.slice(),
    ...(p.activation && { activation: p.activation }),
  };
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** The activation and its derivative at pre-activation `s`. */
function activate(act: HeadActivation | undefined, s: number): [number, number] {
  if (act === 'relu') return s > 0 ? [s, 1] : [0, 0];
  if (act === 'gelu') {
    const cdf = 0.5 * (1 + erf(s / Math.SQRT2));
    return [s * cdf, cdf + s * INV_SQRT_2PI * Math.exp(-0.5 * s * s)];
  }
  const t = Math.tanh(s);
  return [t, 1 - t * t];
}

/** Pooled activations [n × H] and logits [n × C] for rows [from, from + n) of x ([N × H]). */
export function forwardHead(
  p: HeadParams,
  x: Float32Array,
  from: number,
  n: number,
): { pooled: Float64Array; logits: Float64Array; slope: Float64Array } {
  const H = p.hidden;
  const C = p.classes;
  const pooled = new Float64Array(n * H);
  const slope = new Float64Array(n * H); // d pooled / d pre-activation
  const logits = new Float64Array(n * C);
  for (let b = 0; b < n; b++) {
    const xo = (from + b) * H;
    for (let o = 0; o < H; o++) {
      let s = p.poolerBias[o]!;
      const wo = o * H;
      for (let i = 0; i < H; i++) s += p.poolerWeight[wo + i]! * x[xo + i]!;
      [pooled[b * H + o], slope[b * H + o]] = activate(p.activation, s);
    }
    for (let c = 0; c < C; c++) {
      let s = p.classifierBias[c]!;
      for (let h = 0; h < H; h++) s += p.classifierWeight[c * H + h]! * pooled[b * H + h]!;
      logits[b * C + c] = s;
    }
  }
  return { pooled, logits, slope };
}

/** Row-wise softmax, in place. */
export function softmaxRows(logits: Float64Array, classes: number): Float64Array {
  for (let r = 0; r < logits.length; r += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += logits[r + c] = Math.exp(logits[r + c]! - max);
    for (let c = 0; c < classes; c++) logits[r + c]! /= sum;
  }
  return logits;
}

/** Mean KL(q ‖ softmax(head(x))) over rows [from, from + n); q is [N × C]. */
export function klLoss(p: HeadParams, x: Float32Array, q: Float64Array, from = 0, n = q.length / p.classes): number {
  const probs = softmaxRows(forwardHead(p, x, from, n).logits, p.classes);
  let loss = 0;
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < p.classes; c++) {
      const t = q[(from + b) * p.classes + c]!;
      if (t > 0) loss += t * (Math.log(t) - Math.log(Math.max(probs[b * p.classes + c]!, 1e-300)));
    }
  }
  return loss / n;
}

export interface HeadGradients {
  poolerWeight: Float64Array;
  poolerBias: Float64Array;
  classifierWeight: Float64Array;
  classifierBias: Float64Array;
}

/** Gradient of the mean KL over the rows `rows` (indices into x and q). */
export function klGradient(p: HeadParams, x: Float32Array, q: Float64Array, rows: number[]): HeadGradients {
  const H = p.hidden;
  const C = p.classes;
  const g: HeadGradients = {
    poolerWeight: new Float64Array(H * H),
    poolerBias: new Float64Array(H),
    classifierWeight: new Float64Array(C * H),
    classifierBias: new Float64Array(C),
  };
  const dLogits = new Float64Array(C);
  const dPre = new Float64Array(H);
  for (const r of rows) {
    const { pooled, logits, slope } = forwardHead(p, x, r, 1);
    softmaxRows(logits, C);
    // d KL / d logits = softmax − q, averaged over the batch.
    for (let c = 0; c < C; c++) dLogits[c] = (logits[c]! - q[r * C + c]!) / rows.length;
    dPre.fill(0);
    for (let c = 0; c < C; c++) {
      const d = dLogits[c]!;
      g.classifierBias[c]! += d;
      for (let h = 0; h < H; h++) {
        g.classifierWeight[c * H + h]! += d * pooled[h]!;
        dPre[h]! += d * p.classifierWeight[c * H + h]!;
      }
    }
    const xo = r * H;
    for (let o = 0; o < H; o++) {
      const d = dPre[o]! * slope[o]!; // act'(pre)
      if (d === 0) continue;
      g.poolerBias[o]! += d;
      const wo = o * H;
      for (let i = 0; i < H; i++) g.poolerWeight[wo + i]! += d * x[xo + i]!;
    }
  }
  return g;
}
