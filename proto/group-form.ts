/**
 * How a HALP group combines its members' partial sums (Stage.form in control.proto).
 * - host-gather: the host sends the hidden state to every member and sums their partials itself.
 * - sequence-parallel: members reduce-scatter the partials by rows (tokens), each runs residual + bias +
 *   LayerNorm on its rows, and they all-gather the result among themselves (docs/sequence-parallel.md).
 * - position-parallel: every member holds whole layers and runs them on its own positions of the sequence;
 *   per layer the members exchange only their positions' keys and values (docs/sequence-parallel.md).
 */
export const GROUP_FORMS = ['host-gather', 'sequence-parallel', 'position-parallel'] as const;
export type GroupForm = (typeof GROUP_FORMS)[number];

/** A stage's group form; an unset, empty or unknown field is the original host-gather. */
export function groupFormOf(stage: { form?: string | null }): GroupForm {
  const form = stage.form as GroupForm;
  return form === 'sequence-parallel' || form === 'position-parallel' ? form : 'host-gather';
}

/**
 * Members of a position-parallel stage in position order: the host first, so it owns position 0 (the [CLS] token
 * exit heads read), then the others in plan order. Every member derives the same order from the plan.
 */
export function positionOrder<M extends { agentId: string }>(stage: { host: string; members: M[] }): M[] {
  const host = stage.members.filter((m) => m.agentId === stage.host);
  return [...host, ...stage.members.filter((m) => m.agentId !== stage.host)];
}

/**
 * The rows (flattened batch × seq tokens) each member of a sequence-parallel group combines: an even split in
 * member order, the first members taking the spare rows. Every member derives the same ranges from the plan.
 */
export function sequenceRows(total: number, members: number): [number, number][] {
  let start = 0;
  return Array.from({ length: members }, (_, i) => {
    const n = Math.floor(total / members) + (i < total % members ? 1 : 0);
    const range: [number, number] = [start, start + n];
    start += n;
    return range;
  });
}

/**
 * The positions each member of a position-parallel stage owns, in position order (positionOrder): shares sized by
 * the planner to each device's speed, split by largest remainder (ties to the earlier member); the first member
 * owns at least position 0. Without a positive share for every member, an even split (sequenceRows). Every member
 * derives the same ranges from the plan. A member may own no positions of a short sequence.
 */
export function positionRows(total: number, shares: readonly (number | null | undefined)[]): [number, number][] {
  const weights = shares.map((s) => (typeof s === 'number' && Number.isFinite(s) && s > 0 ? s : 0));
  if (weights.length === 0 || weights.some((w) => w === 0)) return sequenceRows(total, shares.length);
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const counts = exact.map(Math.floor);
  const spare = total - counts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, i) => ({ i, r: e - counts[i]! })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; k < spare; k++) counts[byRemainder[k]!.i]!++;
  // The first member (the host) always owns position 0: the [CLS] token exit heads read.
  if (total > 0 && counts[0] === 0) {
    counts[counts.indexOf(Math.max(...counts))]!--;
    counts[0] = 1;
  }
  let start = 0;
  return counts.map((n) => {
    const range: [number, number] = [start, start + n];
    start += n;
    return range;
  });
}

/**
 * A sequence-parallel member runs its FFN on each block of rows as it arrives (overlapping the all-gather) only
 * when every member's block has at least this many rows; below that a session run's fixed cost outweighs the
 * overlap, and it runs the FFN once on all rows. Agents may be started with another figure (--seq-overlap-min-rows).
 */
export const SEQ_OVERLAP_MIN_ROWS = 64;

/** The most tiles a plan may cut a position-parallel member's positions into (each tile is two session runs). */
export const MAX_POSITION_TILES = 16;

/**
 * The tiles a position-parallel member cuts its positions [start, end) into (`Stage.position_tiles`): near-equal,
 * the first tiles taking the spare positions, never an empty one. Absent, 0 or 1: one tile.
 */
export function positionTiles(range: readonly [number, number], tiles: number | null | undefined): [number, number][] {
  const [start, end] = range;
  const count = Math.max(1, Math.min(end - start, MAX_POSITION_TILES, Math.floor(tiles ?? 1)));
  return sequenceRows(end - start, count).map(([a, b]) => [start + a, start + b]);
}
