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
 * A sequence-parallel member runs its FFN on each block of rows as it arrives (overlapping the all-gather) only
 * when every member's block has at least this many rows; below that a session run's fixed cost outweighs the
 * overlap, and it runs the FFN once on all rows. Agents may be started with another figure (--seq-overlap-min-rows).
 */
export const SEQ_OVERLAP_MIN_ROWS = 64;
