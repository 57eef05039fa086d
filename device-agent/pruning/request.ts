/** Token pruning as a stage host applies it to one request (the stage-input frame's tokenPruning). */
import type { FrameOf } from '@edgerelay/proto';
import type { HostTensor } from '../runtime/index.js';
import { keepsEverything, tokensAt } from './schedule.js';
import { pruneBatch, type PrunedBatch } from './select.js';

export type RequestPruning = NonNullable<FrameOf<'stage-input'>['tokenPruning']>;

/** The request's schedule when it drops anything; undefined when there is nothing to do. */
export function activePruning(p: RequestPruning | undefined): RequestPruning | undefined {
  return p && !keepsEverything(p) ? p : undefined;
}

/**
 * The rows `layer` runs on, chosen by the previous layer's scores: tokensAt(keep, layer, length)
 * per sequence (a request is one text, so one k). undefined when nothing is dropped.
 */
export function pruneForLayer(
  p: RequestPruning,
  layer: number,
  hidden: HostTensor,
  mask: HostTensor,
  scores: HostTensor,
): PrunedBatch | undefined {
  const batch = mask.dims[0] ?? 1;
  const k = tokensAt(p.keep, layer, p.length);
  return pruneBatch(hidden, mask, scores.data as Float32Array, new Array<number>(batch).fill(k));
}
