/**
 * Per-layer costs of a model whose heads were pruned (config.json's pruned_heads): a layer computes and
 * stores only the heads it kept. Plans name heads by original index, one list per stage, so a member's
 * share of layer l is its list less the heads pruned from l (possibly nothing).
 */
import type { GroupForm } from '@edgerelay/proto';
import type { PlannerModel } from './cost-model.js';
import type { MemberShare } from './shares.js';
import {
  layerTiming,
  layerUsage,
  type CostContext,
  type LayerTiming,
  type ShareCount,
  type Usage,
} from './stage-cost.js';

export interface LayerCost {
  timing: LayerTiming;
  /** Memory per device for this layer. */
  usage: Map<number, Usage>;
}

/** Heads layer `layer` still has. */
export function headsAt(model: PlannerModel, layer: number): number {
  return model.numHeads - (model.prunedHeads?.[layer]?.length ?? 0);
}

/** Members' head and column counts in layer `layer`, pruned heads left out. */
export function sharesAt(model: PlannerModel, layer: number, members: MemberShare[]): ShareCount[] {
  const pruned = new Set(model.prunedHeads?.[layer] ?? []);
  return members.map((m) => ({
    device: m.device,
    heads: pruned.size ? m.heads.filter((h) => !pruned.has(h)).length : m.heads.length,
    columns: m.columns.length,
    // The executor still sends its scatter and sums its (zero) partial: the round trip stays.
    attends: m.heads.length > 0,
    ...(m.positionShare !== undefined && { positionShare: m.positionShare }),
  }));
}

/** Timing and memory of every layer of the model when run by `host` with `members` (empty: whole layers). */
export function layerCosts(
  ctx: CostContext,
  host: number,
  members: MemberShare[],
  form: GroupForm = 'host-gather',
): LayerCost[] {
  const memo = new Map<string, LayerCost>();
  return Array.from({ length: ctx.model.numLayers }, (_, l) => {
    const counts = sharesAt(ctx.model, l, members);
    const heads = headsAt(ctx.model, l);
    const key = `${heads}|${counts.map((c) => c.heads).join(',')}`;
    let cost = memo.get(key);
    if (!cost) {
      cost = {
        timing: layerTiming(ctx, host, counts, heads, form),
        usage: layerUsage(ctx, host, counts, heads, form),
      };
      memo.set(key, cost);
    }
    return cost;
  });
}
