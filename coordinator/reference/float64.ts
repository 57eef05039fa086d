import type { BertConfig, BertWeights, LayerNormWeights, LinearWeights } from '../checkpoint/types.js';
import { odeSchedule } from '@edgerelay/proto';

/**
 * A plain float64 BERT forward pass with no ONNX Runtime: the independent reference the
 * compiled shards are checked against. Written for clarity, not speed; use it on tiny models.
 */

type Matrix = Float64Array[]; // rows of length = features

export interface Float64Input {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds?: number[][];
  /** Per layer, a weight per head (0 removes the head, as Hugging Face's head_mask); all 1 when absent. */
  headMask?: number[][];
}

export interface Float64Options {
  /** ODE steps K of a parameter-shared model (default: numLayers, the ordinary model). */
  odeSteps?: number;
}

export interface Float64Output {
  /** hidden state after every encoder layer (slot; unchanged where an ODE step skips it): [layer][batch] → [seq][hidden] */
  layerOutputs: Matrix[][];
  /** logits of each classifier head by layer (undefined where the layer has none): [layer][batch][label] */
  headLogits: (number[][] | undefined)[];
}

export function linear(x: Float64Array, w: LinearWeights): Float64Array {
  const [outDim, inDim] = w.weight.shape as [number, number];
  const y = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let s = w.bias.data[o]!;
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) s += w.weight.data[row + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function layerNorm(x: Float64Array, w: LayerNormWeights, eps: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= n;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * w.weight.data[i]! + w.bias.data[i]!);
}

/** erf by Abramowitz–Stegun 7.1.26 is too coarse for 1e-6 checks; use a series/continued-fraction pair. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: converges fast for small |x|.
    let term = x;
    let sum = x;
    for (let n = 1; n < 60; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc at larger |x| (Lentz).
  const z = ax;
  let f = z;
  let c = z;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    d = z + a * d;
    d = 1 / d;
    c = z + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-z * z) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

function activation(x: number, act: BertConfig['hiddenAct']): number {
  if (act === 'relu') return Math.max(0, x);
  if (act === 'gelu') return 0.5 * x * (1 + erf(x / Math.SQRT2));
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

export function embed(weights: BertWeights, config: BertConfig, ids: number[], types: number[]): Matrix {
  const e = weights.embeddings;
  const H = e.word.shape[1]!; // embedding_size for ALBERT
  return ids.map((id, pos) => {
    const v = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      v[h] = e.word.data[id * H + h]! + e.position.data[pos * H + h]! + e.tokenType.data[types[pos]! * H + h]!;
    }
    const normed = layerNorm(v, e.layerNorm, config.layerNormEps);
    return e.projection ? linear(normed, e.projection) : normed;
  });
}

/**
 * Post-LN encoder layer; `beta` scales both residual branches, biases included (ODE step size, 1 = BERT);
 * `headMask` weighs each head (0 removes it); `probs`, when given, receives each head's attention
 * probabilities [head][query][key].
 */
export function encoderLayer(
  layer: BertWeights['layers'][number],
  config: BertConfig,
  x: Matrix,
  mask: number[],
  beta = 1,
  headMask?: number[],
  probs?: Float64Array[][],
): Matrix {
  const S = x.length;
  // Head size is fixed by the config; the number of heads by the weights (fewer once heads are pruned).
  const D = config.hiddenSize / config.numHeads;
  const A = layer.query.weight.shape[0]! / D;
  const q = x.map((r) => linear(r, layer.query));
  const k = x.map((r) => linear(r, layer.key));
  const v = x.map((r) => linear(r, layer.value));
  const context = x.map(() => new Float64Array(A * D));
  for (let h = 0; h < A; h++) {
    const weight = headMask?.[h] ?? 1;
    const headProbs: Float64Array[] = [];
    probs?.push(headProbs);
    for (let i = 0; i < S; i++) {
      const scores = new Float64Array(S);
      for (let j = 0; j < S; j++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += q[i]![h * D + d]! * k[j]![h * D + d]!;
        scores[j] = mask[j] ? s / Math.sqrt(D) : -Infinity;
      }
      const max = Math.max(...scores);
      const exps = scores.map((s) => Math.exp(s - max));
      const total = exps.reduce((a, b) => a + b, 0);
      headProbs.push(exps.map((e) => e / total));
      for (let j = 0; j < S; j++) {
        const p = (weight * exps[j]!) / total;
        for (let d = 0; d < D; d++) context[i]![h * D + d]! += p * v[j]![h * D + d]!;
      }
    }
  }
  const eps = config.layerNormEps;
  const attended = x.map((r, i) => {
    const o = linear(context[i]!, layer.attentionOutput);
    return layerNorm(
      o.map((val, hIdx) => beta * val + r[hIdx]!),
      layer.attentionLayerNorm,
      eps,
    );
  });
  return attended.map((r) => {
    const inter = linear(r, layer.intermediate).map((val) => activation(val, config.hiddenAct));
    const out = linear(inter, layer.output);
    return layerNorm(
      out.map((val, hIdx) => beta * val + r[hIdx]!),
      layer.outputLayerNorm,
      eps,
    );
  });
}

export function forwardFloat64(
  weights: BertWeights,
  config: BertConfig,
  input: Float64Input,
  options: Float64Options = {},
): Float64Output {
  const schedule = odeSchedule(config.numLayers, options.odeSteps);
  const stepSlots = new Set(schedule.stepSlots);
  const batch = input.inputIds.length;
  let states: Matrix[] = input.inputIds.map((ids, b) =>
    embed(weights, config, ids, input.tokenTypeIds?.[b] ?? ids.map(() => 0)),
  );
  const layerOutputs: Matrix[][] = [];
  const headLogits: (number[][] | undefined)[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    layerOutputs.push(states);
    if (!stepSlots.has(l)) {
      headLogits.push(undefined);
      continue;
    }
    // An ALBERT slot applies its group's inner layers in turn (the same objects for every slot of the group).
    for (const w of weights.innerLayers?.[l] ?? [weights.layers[l]!]) {
      states = states.map((s, b) =>
        encoderLayer(w, config, s, input.attentionMask[b]!, schedule.stepSize, input.headMask?.[l]),
      );
    }
    layerOutputs[l] = states;
    const head = weights.heads[l];
    headLogits.push(
      head &&
        Array.from({ length: batch }, (_, b) => {
          const pooled = linear(states[b]![0]!, head.pooler).map(Math.tanh);
          return Array.from(linear(pooled, head.classifier));
        }),
    );
  }
  return { layerOutputs, headLogits };
}
