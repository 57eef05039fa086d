import type { GraphBuilder } from './graph-builder.js';

/**
 * Each token's attention context contribution (the score token pruning ranks by), from a layer's
 * attention probabilities P [batch, heads, query, key] and its additive mask [batch, 1, 1, seq]:
 *
 *   c[b, j] = Σ_h Σ_{i real, i ≠ j} P[b, h, i, j]
 *
 * the probability mass token j gives to the contexts of the other real tokens. Padding queries are
 * excluded (their rows are distributions too and would add the same mass to every real key), and so
 * is a token's attention to itself (PoWER-BERT's correction: it says nothing about the others). The
 * sum is linear in the heads and in the queries, so a group's members' shares add up to the whole layer's score
 * (with `queryOffset`, the queries are a slice of the positions: a position-parallel member's).
 */
export function emitContextContribution(
  g: GraphBuilder,
  probs: string,
  additiveMask: string,
  queryOffset?: string,
): string {
  // Real positions are where the additive mask is 0; as a query mask: [batch, 1, seq, 1].
  const real = g.op('Cast', [g.op('Equal', [additiveMask, g.scalar('zero_f', 0)])], { to: { int: 1 } });
  // 1 − I over [query, key], built from the dynamic sequence length.
  const seqLen = g.op('Gather', [g.op('Shape', [probs]), g.int64s('key_axis', [3], [])], { axis: { int: 0 } });
  const positions = g.op('Range', [g.int64s('range_start', [0], []), seqLen, g.int64s('range_step', [1], [])]);
  const cols = g.op('Unsqueeze', [positions, g.int64s('col_axis', [0])]);
  let queryMask: string;
  let queries = positions;
  if (!queryOffset) {
    queryMask = g.op('Transpose', [real], { perm: { ints: [0, 1, 3, 2] } });
  } else {
    // Queries are positions queryOffset.. of the keys (a position-parallel member's share of the sequence).
    const count = g.op('Gather', [g.op('Shape', [probs]), g.int64s('query_axis', [2])], { axis: { int: 0 } });
    const end = g.op('Add', [queryOffset, count]);
    const ownReal = g.op('Slice', [real, queryOffset, end, g.int64s('mask_key_axis', [3])]);
    queryMask = g.op('Transpose', [ownReal], { perm: { ints: [0, 1, 3, 2] } });
    const scalar = (x: string) => g.op('Squeeze', [x, g.int64s('scalar_axis', [0])]);
    queries = g.op('Range', [scalar(queryOffset), scalar(end), g.int64s('range_step', [1], [])]);
  }
  const rows = g.op('Unsqueeze', [queries, g.int64s('row_axis', [1])]);
  const offDiagonal = g.op('Cast', [g.op('Not', [g.op('Equal', [rows, cols])])], { to: { int: 1 } });
  const weighted = g.op('Mul', [g.op('Mul', [probs, queryMask]), offDiagonal]);
  return g.op('ReduceSum', [weighted, g.int64s('heads_queries', [1, 2])], { keepdims: { int: 0 } });
}
