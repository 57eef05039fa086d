/**
 * One encoder layer with a head-mask input, as Hugging Face's head_mask: each head's attention probabilities
 * are scaled by head_mask[h] (0 removes the head, 1 keeps it, values between give the derivative Michel et
 * al.'s importance score needs). The head-pruning search evaluates candidate sets with these graphs, so one
 * compiled layer serves every candidate.
 */
import type { BertConfig, EncoderLayerWeights } from '../checkpoint/types.js';
import { IO } from '@edgerelay/proto';
import { emitAdditiveMask, emitFfnPartial, emitResidualCombine, headProjection } from './bert-emitters.js';
import { GraphBuilder, type Dim } from './graph-builder.js';
import { emitNoHeads, layerHeadCount } from './pruned-emitters.js';
import { headDims, range } from './weight-slices.js';
import { emitLinear } from './linear.js';
import type { CompilableModel } from './compile.js';

/** Name of the [heads] float input of a masked layer. */
export const HEAD_MASK_INPUT = 'head_mask';

/** Layer `layer` with inputs hidden, attention_mask and (when the layer has heads) head_mask; output hidden_out. */
export function compileMaskedLayer(model: CompilableModel, layer: number): Uint8Array {
  const { config, weights } = model;
  const w = weights.layers[layer]!;
  const g = new GraphBuilder(`masked layer ${layer}`);
  const hiddenDims: Dim[] = ['batch', 'seq', config.hiddenSize];
  const hidden = g.input(IO.hidden, 'float32', hiddenDims);
  const mask = emitAdditiveMask(g, g.input(IO.attentionMask, 'int64', ['batch', 'seq']));
  const heads = layerHeadCount(w, config);
  const partial =
    heads > 0
      ? emitMaskedAttention(g, w, config, hidden, mask, g.input(HEAD_MASK_INPUT, 'float32', [heads]), heads)
      : emitNoHeads(g, hidden, false).partial;
  const eps = config.layerNormEps;
  const attended = emitResidualCombine(g, hidden, partial, w.attentionOutput.bias, w.attentionLayerNorm, eps);
  const ffn = emitFfnPartial(g, w, config, attended, range(0, config.intermediateSize));
  g.expose(
    emitResidualCombine(g, attended, ffn, w.output.bias, w.outputLayerNorm, eps),
    IO.hiddenOut,
    'float32',
    hiddenDims,
  );
  return g.toBytes(`edgerelay masked layer ${layer}`);
}

/** Σ_h head_mask[h] · context_h · W_o[:, h]ᵀ (no output bias), as emitAttentionPartial with every head. */
function emitMaskedAttention(
  g: GraphBuilder,
  w: EncoderLayerWeights,
  config: BertConfig,
  hidden: string,
  additiveMask: string,
  headMask: string,
  heads: number,
): string {
  const headSize = config.hiddenSize / config.numHeads;
  const dims = headDims(range(0, heads), headSize);
  const width = dims.length;
  const scale = 1 / Math.sqrt(headSize);
  const project = headProjection(g, config, hidden, range(0, heads));
  const q = g.op('Transpose', [project(w.query, 'q', scale)], { perm: { ints: [0, 2, 1, 3] } });
  const k = g.op('Transpose', [project(w.key, 'k')], { perm: { ints: [0, 2, 3, 1] } });
  const v = g.op('Transpose', [project(w.value, 'v')], { perm: { ints: [0, 2, 1, 3] } });
  const probs = g.op('Softmax', [g.op('Add', [g.op('MatMul', [q, k]), additiveMask])], { axis: { int: -1 } });
  // [heads] → [1, heads, 1, 1], broadcast over batch, queries and keys.
  const perHead = g.op('Reshape', [headMask, g.int64s('mask_shape', [1, heads, 1, 1])]);
  const context = g.op('Transpose', [g.op('MatMul', [g.op('Mul', [probs, perHead]), v])], {
    perm: { ints: [0, 2, 1, 3] },
  });
  const merged = g.op('Reshape', [context, g.int64s('merge_heads', [0, 0, width])]);
  return emitLinear(g, merged, w.attentionOutput.weight, undefined, 'o', { cols: dims });
}
