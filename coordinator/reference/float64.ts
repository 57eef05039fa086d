import type { BertConfig, BertWeights, LayerNormWeights, LinearWeights } from '../checkpoint/types.js';

/**
 * A plain float64 BERT forward pass with no ONNX Runtime: the independent reference the
 * compiled shards are checked against. Written for clarity, not speed; use it on tiny models.
 */

type Matrix = Float64Array[]; // rows of length = features

export interface Float64Input {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds?: number[][];
}

export interface Float64Output {
  /** hidden state after every encoder layer: [layer][batch] → [seq][hidden] */
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
  const H = config.hiddenSize;
  const e = weights.embeddings;
  return ids.map((id, pos) => {
    const v = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      v[h] = e.word.data[id * H + h]! + e.position.data[pos * H + h]! + e.tokenType.data[types[pos]! * H + h]!;
    }
    return layerNorm(v, e.layerNorm, config.layerNormEps);
  });
}

/** One encoder layer; `probs`, when given, receives each head's attention probabilities [head][query][key]. */
export function encoderLayer(
  layer: BertWeights['layers'][number],
  config: BertConfig,
  x: Matrix,
  mask: number[],
  probs?: Float64Array[][],
): Matrix {
  const S = x.length;
  const A = config.numHeads;
  const D = config.hiddenSize / A;
  const q = x.map((r) => linear(r, layer.query));
  const k = x.map((r) => linear(r, layer.key));
  const v = x.map((r) => linear(r, layer.value));
  const context = x.map(() => new Float64Array(config.hiddenSize));
  for (let h = 0; h < A; h++) {
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
        const p = exps[j]! / total;
        for (let d = 0; d < D; d++) context[i]![h * D + d]! += p * v[j]![h * D + d]!;
      }
    }
  }
  const eps = config.layerNormEps;
  const attended = x.map((r, i) => {
    const o = linear(context[i]!, layer.attentionOutput);
    return layerNorm(
      o.map((val, hIdx) => val + r[hIdx]!),
      layer.attentionLayerNorm,
      eps,
    );
  });
  return attended.map((r) => {
    const inter = linear(r, layer.intermediate).map((val) => activation(val, config.hiddenAct));
    const out = linear(inter, layer.output);
    return layerNorm(
      out.map((val, hIdx) => val + r[hIdx]!),
      layer.outputLayerNorm,
      eps,
    );
  });
}

export function forwardFloat64(weights: BertWeights, config: BertConfig, input: Float64Input): Float64Output {
  const batch = input.inputIds.length;
  let states: Matrix[] = input.inputIds.map((ids, b) =>
    embed(weights, config, ids, input.tokenTypeIds?.[b] ?? ids.map(() => 0)),
  );
  const layerOutputs: Matrix[][] = [];
  const headLogits: (number[][] | undefined)[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    states = states.map((s, b) => encoderLayer(weights.layers[l]!, config, s, input.attentionMask[b]!));
    layerOutputs.push(states);
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
