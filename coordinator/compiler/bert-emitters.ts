import type {
  BertConfig,
  ClassifierHeadWeights,
  EmbeddingWeights,
  EncoderLayerWeights,
  LayerNormWeights,
  LinearWeights,
} from '../checkpoint/types.js';
import { emitContextContribution } from './context-contribution.js';
import type { GraphBuilder } from './graph-builder.js';
import { headDims } from './weight-slices.js';
import { emitLinear } from './linear.js';
import { emitNoHeads, layerHeadCount } from './pruned-emitters.js';
import { emitHeadActivation, emitPaddingOffsetPositions, emitTokenTypes } from './family-emitters.js';

/**
 * Emitters add one piece of a BERT encoder to a graph and return the name of its output.
 * Every shard kind, and the monolithic graph, is assembled from these same pieces, which is
 * why any split recombines to the whole model.
 */

const FLOAT32_MIN = -3.4028234663852886e38;

export function emitLayerNorm(g: GraphBuilder, x: string, w: LayerNormWeights, eps: number): string {
  const gamma = g.weight('ln_gamma', w.weight.data, w.weight.shape);
  const beta = g.weight('ln_beta', w.bias.data, w.bias.shape);
  return g.op('LayerNormalization', [x, gamma, beta], { axis: { int: -1 }, epsilon: { float: eps } });
}

export function emitEmbeddings(
  g: GraphBuilder,
  w: EmbeddingWeights,
  config: BertConfig,
  inputIds: string,
  tokenTypeIds: string,
): string {
  const words = g.op('Gather', [g.weight('word_emb', w.word.data, w.word.shape), inputIds], { axis: { int: 0 } });
  const positionTable = g.weight('pos_emb', w.position.data, w.position.shape);
  const positions =
    config.positionIds === 'padding-offset'
      ? emitPaddingOffsetPositions(g, positionTable, inputIds, config.padTokenId)
      : sequentialPositions(g, positionTable, inputIds);
  const types = emitTokenTypes(g, w.tokenType, tokenTypeIds);
  const sum = g.op('Add', [g.op('Add', [words, positions]), types]);
  const normed = emitLayerNorm(g, sum, w.layerNorm, config.layerNormEps);
  if (!w.projection) return normed;
  // ALBERT: embeddings of embedding_size, projected to the hidden size (embedding_hidden_mapping_in).
  return emitLinear(g, normed, w.projection.weight, w.projection.bias, 'emb_proj');
}

/** Position ids 0..seq-1 (BERT): slice the table to the sequence length instead of passing them in. */
function sequentialPositions(g: GraphBuilder, positionTable: string, inputIds: string): string {
  const seqLen = g.op('Slice', [g.op('Shape', [inputIds]), g.int64s('one', [1]), g.int64s('two', [2])]);
  return g.op('Slice', [positionTable, g.int64s('zero', [0]), seqLen, g.int64s('axis0', [0])]);
}

/** [batch, seq] int64 mask of 1/0 → [batch, 1, 1, seq] additive float mask, as Hugging Face builds it. */
export function emitAdditiveMask(g: GraphBuilder, attentionMask: string): string {
  const mask = g.op('Cast', [attentionMask], { to: { int: 1 } });
  const inverted = g.op('Sub', [g.scalar('one_f', 1), mask]);
  const additive = g.op('Mul', [inverted, g.scalar('f32_min', FLOAT32_MIN)]);
  return g.op('Unsqueeze', [additive, g.int64s('mask_axes', [1, 2])]);
}

export interface AttentionPartial {
  /** Σ over the chosen heads of context_h · W_o[:, h]ᵀ, without the output bias: [batch, seq, hidden]. */
  partial: string;
  /** Each token's context contribution from the chosen heads, [batch, seq]: see context-contribution.ts. */
  received?: string;
}

/**
 * Projects the hidden state onto some heads' query/key/value columns ([batch, seq, heads, headSize]);
 * `factor` scales the weights and bias (the query's 1/sqrt(d)).
 */
export function headProjection(
  g: GraphBuilder,
  config: BertConfig,
  hidden: string,
  heads: number[],
): (lin: EncoderLayerWeights['query'], prefix: string, factor?: number) => string {
  const headSize = config.hiddenSize / config.numHeads;
  const dims = headDims(heads, headSize);
  return (lin, prefix, factor = 1) => {
    const y = emitLinear(g, hidden, lin.weight, lin.bias, prefix, { rows: dims, factor });
    return g.op('Reshape', [y, g.int64s('split_heads', [0, 0, heads.length, headSize])]);
  };
}

export function emitAttentionPartial(
  g: GraphBuilder,
  w: EncoderLayerWeights,
  config: BertConfig,
  hidden: string,
  additiveMask: string,
  heads: number[],
  withReceived: boolean,
): AttentionPartial {
  const headSize = config.hiddenSize / config.numHeads;
  const dims = headDims(heads, headSize);
  const width = dims.length;
  // 1/sqrt(d) is folded into the query weights: one less op per layer, the same numbers up to rounding.
  const scale = 1 / Math.sqrt(headSize);
  const project = headProjection(g, config, hidden, heads);
  const q = g.op('Transpose', [project(w.query, 'q', scale)], { perm: { ints: [0, 2, 1, 3] } });
  const k = g.op('Transpose', [project(w.key, 'k')], { perm: { ints: [0, 2, 3, 1] } });
  const v = g.op('Transpose', [project(w.value, 'v')], { perm: { ints: [0, 2, 1, 3] } });
  const scores = g.op('Add', [g.op('MatMul', [q, k]), additiveMask]);
  const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
  const context = g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: { ints: [0, 2, 1, 3] } });
  const merged = g.op('Reshape', [context, g.int64s('merge_heads', [0, 0, width])]);
  const partial = emitLinear(g, merged, w.attentionOutput.weight, undefined, 'o', { cols: dims });
  if (!withReceived) return { partial };
  return { partial, received: emitContextContribution(g, probs, additiveMask) };
}

/**
 * LayerNorm(residual + Σ partials + bias): the aggregation a group's host performs. With `stepSize` (a graph
 * input, ODE steps of a parameter-shared model) the branch is scaled: LayerNorm(residual + β·(Σ partials + bias)).
 */
export function emitResidualCombine(
  g: GraphBuilder,
  residual: string,
  partialSum: string,
  bias: EncoderLayerWeights['output']['bias'],
  norm: LayerNormWeights,
  eps: number,
  stepSize?: string,
): string {
  const b = g.weight('combine_bias', bias.data, bias.shape);
  const sum = stepSize
    ? g.op('Add', [residual, g.op('Mul', [g.op('Add', [partialSum, b]), stepSize])])
    : g.op('Add', [g.op('Add', [residual, partialSum]), b]);
  return emitLayerNorm(g, sum, norm, eps);
}

export function emitActivation(g: GraphBuilder, x: string, act: BertConfig['hiddenAct']): string {
  if (act === 'relu') return g.op('Relu', [x]);
  if (act === 'gelu') {
    // Exact erf GELU; ORT fuses this pattern into its Gelu kernel.
    const erf = g.op('Erf', [g.op('Div', [x, g.scalar('sqrt2', Math.SQRT2)])]);
    return g.op('Mul', [g.op('Mul', [x, g.op('Add', [erf, g.scalar('one', 1)])]), g.scalar('half', 0.5)]);
  }
  // gelu_new / gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
  const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Add', [x, g.op('Mul', [cube, g.scalar('c', 0.044715)])]);
  const t = g.op('Tanh', [g.op('Mul', [inner, g.scalar('k', Math.sqrt(2 / Math.PI))])]);
  return g.op('Mul', [g.op('Mul', [x, g.op('Add', [t, g.scalar('one', 1)])]), g.scalar('half', 0.5)]);
}

/** act(x·W1[cols]ᵀ + b1[cols]) · W2[:, cols]ᵀ, without the output bias: [batch, seq, hidden]. */
export function emitFfnPartial(
  g: GraphBuilder,
  w: EncoderLayerWeights,
  config: BertConfig,
  x: string,
  columns: number[],
): string {
  const inner = emitLinear(g, x, w.intermediate.weight, w.intermediate.bias, 'ffn_in', { rows: columns });
  const h = emitActivation(g, inner, config.hiddenAct);
  return emitLinear(g, h, w.output.weight, undefined, 'ffn_out', { cols: columns });
}

export interface LayerOutputs {
  hidden: string;
  received?: string;
}

export function emitEncoderLayer(
  g: GraphBuilder,
  w: EncoderLayerWeights,
  config: BertConfig,
  hidden: string,
  additiveMask: string,
  withReceived: boolean,
  stepSize?: string,
): LayerOutputs {
  // The weights say how many heads the layer has: fewer than numHeads once heads are pruned (pruned_heads).
  const allHeads = Array.from({ length: layerHeadCount(w, config) }, (_, i) => i);
  const allColumns = Array.from({ length: config.intermediateSize }, (_, i) => i);
  const eps = config.layerNormEps;
  const attn =
    allHeads.length > 0
      ? emitAttentionPartial(g, w, config, hidden, additiveMask, allHeads, withReceived)
      : emitNoHeads(g, hidden, withReceived);
  const attended = emitResidualCombine(
    g,
    hidden,
    attn.partial,
    w.attentionOutput.bias,
    w.attentionLayerNorm,
    eps,
    stepSize,
  );
  const ffn = emitFfnPartial(g, w, config, attended, allColumns);
  const out = emitResidualCombine(g, attended, ffn, w.output.bias, w.outputLayerNorm, eps, stepSize);
  return { hidden: out, received: attn.received };
}

/** pooler = act(dense(hidden[:, 0])) (tanh unless the family's head says otherwise), then the classifier: [batch, numLabels] logits. */
export function emitClassifierHead(
  g: GraphBuilder,
  head: ClassifierHeadWeights,
  config: BertConfig,
  hidden: string,
): string {
  return emitClassifierHeadParts(g, head, config, hidden).logits;
}

/** The head's pooled vector [batch, hidden] (what a DACT halting unit reads) and its logits. */
export function emitClassifierHeadParts(
  g: GraphBuilder,
  head: ClassifierHeadWeights,
  config: BertConfig,
  hidden: string,
): { pooled: string; logits: string } {
  const first = g.op('Gather', [hidden, g.int64s('cls_index', [0], [])], { axis: { int: 1 } });
  const dense = emitLinear(g, first, head.pooler.weight, head.pooler.bias, 'pool');
  const pooled = emitHeadActivation(g, dense, head.activation, (x) => emitActivation(g, x, 'gelu'));
  return { pooled, logits: emitLinear(g, pooled, head.classifier.weight, head.classifier.bias, 'cls') };
}

/**
 * A DACT halting unit's logit w·pooled + b: [batch, 1]. The sigmoid is applied by the caller in float64
 * (device-agent/exits/math.ts), so a bias of ±∞ gives exactly h = 1 or 0 rather than a clamped approximation.
 */
export function emitHaltingLogit(g: GraphBuilder, unit: LinearWeights, config: BertConfig, pooled: string): string {
  return emitLinear(g, pooled, unit.weight, unit.bias, 'halt');
}
