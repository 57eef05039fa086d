/**
 * Graph pieces of position-parallel groups (docs/sequence-parallel.md): every member runs whole layers on its own
 * positions of the sequence. A layer is cut where attention mixes positions: `keys-values` projects the member's
 * positions to keys and values (which the members exchange), and `position-layer` runs the rest of the layer on the
 * member's positions as queries against every position's keys and values. Both are built from the same emitters as
 * the whole layer, so the two shards together equal it.
 */
import type { BertConfig, EncoderLayerWeights } from '../checkpoint/types.js';
import { emitActivation, emitFfnPartial, emitResidualCombine, headProjection } from './bert-emitters.js';
import { emitLinearFeatureMajor, featureMajorFits, swapLastTwo } from './feature-major.js';
import { emitContextContribution } from './context-contribution.js';
import type { GraphBuilder } from './graph-builder.js';
import { emitLinear } from './linear.js';
import { layerHeadCount } from './pruned-emitters.js';
import { headDims } from './weight-slices.js';

function layerHeads(w: EncoderLayerWeights, config: BertConfig) {
  const count = layerHeadCount(w, config);
  const headSize = config.hiddenSize / config.numHeads;
  const heads = Array.from({ length: count }, (_, i) => i);
  return { count, headSize, heads, width: count * headSize, dims: headDims(heads, headSize) };
}

/**
 * How a position shard lays out its linear layers' activations: feature-major (feature-major.ts) where the weights
 * are float32, since a member's runs are on few rows; int8 weights keep the row-major layout their kernel needs.
 */
export type Layout = 'row-major' | 'feature-major';

/** The last dimension of a layer's keys-values tensor: keys then values of the heads it has left. */
export function keysValuesWidth(w: EncoderLayerWeights, config: BertConfig): number {
  return 2 * layerHeads(w, config).width;
}

/** [batch, n, hidden] → keys then values of every head, with their biases: [batch, n, 2 · heads · headSize]. */
export function emitKeysValues(
  g: GraphBuilder,
  w: EncoderLayerWeights,
  config: BertConfig,
  hidden: string,
  layout: Layout = featureMajorFits(w) ? 'feature-major' : 'row-major',
): string {
  const { dims } = layerHeads(w, config);
  if (layout === 'feature-major') {
    const xT = swapLastTwo(g, hidden);
    const k = emitLinearFeatureMajor(g, xT, w.key.weight, w.key.bias, 'k', { rows: dims });
    const v = emitLinearFeatureMajor(g, xT, w.value.weight, w.value.bias, 'v', { rows: dims });
    return swapLastTwo(g, g.op('Concat', [k, v], { axis: { int: 1 } }));
  }
  const k = emitLinear(g, hidden, w.key.weight, w.key.bias, 'k', { rows: dims });
  const v = emitLinear(g, hidden, w.value.weight, w.value.bias, 'v', { rows: dims });
  return g.op('Concat', [k, v], { axis: { int: -1 } });
}

/** Every position's keys [batch, heads, d, seq] and values [batch, heads, seq, d] from a keys-values tensor. */
function keysAndValues(g: GraphBuilder, keysValues: string, count: number, headSize: number) {
  const width = count * headSize;
  const split = (from: number, prefix: string) => {
    const part = g.op('Slice', [
      keysValues,
      g.int64s(`${prefix}_start`, [from]),
      g.int64s(`${prefix}_end`, [from + width]),
      g.int64s(`${prefix}_axis`, [2]),
    ]);
    return g.op('Reshape', [part, g.int64s('split_heads', [0, 0, count, headSize])]);
  };
  return {
    k: g.op('Transpose', [split(0, 'keys')], { perm: { ints: [0, 2, 3, 1] } }),
    v: g.op('Transpose', [split(width, 'values')], { perm: { ints: [0, 2, 1, 3] } }),
  };
}

/**
 * The layer for the queries `hidden` ([batch, n, hidden], positions queryOffset..queryOffset + n − 1) against every
 * position's keys and values ([batch, seq, 2 · width]): attention, output projection, residual + LayerNorm, FFN,
 * residual + LayerNorm, as emitEncoderLayer computes them. `received` is each key's context contribution from these
 * queries; the members' add up to the whole layer's.
 */
export function emitPositionLayer(
  g: GraphBuilder,
  w: EncoderLayerWeights,
  config: BertConfig,
  io: { hidden: string; keysValues: string; additiveMask: string; queryOffset: string },
  layout: Layout = featureMajorFits(w) ? 'feature-major' : 'row-major',
): { hidden: string; received: string } {
  if (layout === 'feature-major') return emitPositionLayerFeatureMajor(g, w, config, io);
  const { count, headSize, heads, width, dims } = layerHeads(w, config);
  // 1/sqrt(d) folded into the query weights, as emitAttentionPartial does.
  const q = g.op('Transpose', [headProjection(g, config, io.hidden, heads)(w.query, 'q', 1 / Math.sqrt(headSize))], {
    perm: { ints: [0, 2, 1, 3] },
  });
  const { k, v } = keysAndValues(g, io.keysValues, count, headSize);
  const scores = g.op('Add', [g.op('MatMul', [q, k]), io.additiveMask]);
  const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
  const context = g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: { ints: [0, 2, 1, 3] } });
  const merged = g.op('Reshape', [context, g.int64s('merge_heads', [0, 0, width])]);
  const partial = emitLinear(g, merged, w.attentionOutput.weight, undefined, 'o', { cols: dims });
  const eps = config.layerNormEps;
  const attended = emitResidualCombine(g, io.hidden, partial, w.attentionOutput.bias, w.attentionLayerNorm, eps);
  const columns = Array.from({ length: config.intermediateSize }, (_, i) => i);
  const ffn = emitFfnPartial(g, w, config, attended, columns);
  const out = emitResidualCombine(g, attended, ffn, w.output.bias, w.outputLayerNorm, eps);
  return { hidden: out, received: emitContextContribution(g, probs, io.additiveMask, io.queryOffset) };
}

/** emitPositionLayer with every linear layer in feature-major layout (feature-major.ts): the same values. */
function emitPositionLayerFeatureMajor(
  g: GraphBuilder,
  w: EncoderLayerWeights,
  config: BertConfig,
  io: { hidden: string; keysValues: string; additiveMask: string; queryOffset: string },
): { hidden: string; received: string } {
  const { count, headSize, width, dims } = layerHeads(w, config);
  const xT = swapLastTwo(g, io.hidden);
  // 1/sqrt(d) folded into the query weights, as emitAttentionPartial does. [batch, width, n] → [batch, heads, n, d].
  const qT = emitLinearFeatureMajor(g, xT, w.query.weight, w.query.bias, 'q', {
    rows: dims,
    factor: 1 / Math.sqrt(headSize),
  });
  const q = g.op('Transpose', [g.op('Reshape', [qT, g.int64s('split_heads_t', [0, count, headSize, -1])])], {
    perm: { ints: [0, 1, 3, 2] },
  });
  const { k, v } = keysAndValues(g, io.keysValues, count, headSize);
  const scores = g.op('Add', [g.op('MatMul', [q, k]), io.additiveMask]);
  const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
  // [batch, heads, n, d] → [batch, width, n]
  const contextT = g.op('Reshape', [
    g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: { ints: [0, 1, 3, 2] } }),
    g.int64s('merge_heads_t', [0, width, -1]),
  ]);
  const partial = swapLastTwo(
    g,
    emitLinearFeatureMajor(g, contextT, w.attentionOutput.weight, undefined, 'o', { cols: dims }),
  );
  const eps = config.layerNormEps;
  const attended = emitResidualCombine(g, io.hidden, partial, w.attentionOutput.bias, w.attentionLayerNorm, eps);
  const innerT = emitLinearFeatureMajor(
    g,
    swapLastTwo(g, attended),
    w.intermediate.weight,
    w.intermediate.bias,
    'ffn_in',
  );
  const hT = emitActivation(g, innerT, config.hiddenAct);
  const ffn = swapLastTwo(g, emitLinearFeatureMajor(g, hT, w.output.weight, undefined, 'ffn_out'));
  const out = emitResidualCombine(g, attended, ffn, w.output.bias, w.outputLayerNorm, eps);
  return { hidden: out, received: emitContextContribution(g, probs, io.additiveMask, io.queryOffset) };
}
