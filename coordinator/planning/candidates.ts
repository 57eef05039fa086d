import { GROUP_FORMS, type GroupForm } from '@edgerelay/proto';
import { apportion, contiguousRanges, proportionalShares, type MemberShare } from './shares.js';
import {
  attentionPartialFlops,
  ffnPartialFlops,
  partialBytes,
  scatterBytes,
  transferMs,
  wireMs,
  messageMs,
} from './cost-model.js';
import { weightSetSlots } from './shared-layers.js';
import {
  addUsage,
  groupLayerTiming,
  groupStageMs,
  hostExtrasUsage,
  NO_USAGE,
  usageBytes,
  layerUsage,
  wholeLayerTiming,
  type CostContext,
  type LayerTiming,
  type Usage,
} from './stage-cost.js';
import { layerCosts, type LayerCost } from './pruned-layers.js';
import { balancedPositionRows } from './position-cost.js';

/** One way to run a stage: a single device running whole layers, or a head group with its host and shares. */
export interface Candidate {
  /** Bit i set: the i-th device of the search pool takes part. */
  mask: number;
  host: number;
  /** Cluster device indices, in plan order (fastest first). */
  devices: number[];
  /** Empty for whole layers. */
  shares: MemberShare[];
  timing: LayerTiming;
  perLayer: Map<number, Usage>;
  /** Per model layer: what `timing` and `perLayer` say for an intact layer, less for one with pruned heads. */
  layers: LayerCost[];
  /** A group's form (docs/sequence-parallel.md); host-gather when absent. */
  form?: GroupForm;
  /**
   * Once per stage: a sequence-parallel host sends the stage input to every member; a position-parallel one also
   * gathers the members' positions after the last layer.
   */
  entryMs?: number;
}

export function singleCandidate(ctx: CostContext, device: number, mask: number): Candidate {
  return {
    mask,
    host: device,
    devices: [device],
    shares: [],
    timing: wholeLayerTiming(ctx, device),
    perLayer: layerUsage(ctx, device, []),
    layers: layerCosts(ctx, device, []),
  };
}

const bySpeed = (ctx: CostContext) => (a: number, b: number) =>
  ctx.cluster.devices[b]!.gflops - ctx.cluster.devices[a]!.gflops || a - b;

/**
 * A head group over `devices` with speed-proportional shares, hosted by the member that makes a
 * layer fastest (it has no scatter to wait for, so the best-connected fast member wins).
 * Undefined when some member would get neither a head nor a column: the smaller group covers that.
 */
export function groupCandidate(ctx: CostContext, devices: number[], mask: number): Candidate | undefined {
  const ordered = [...devices].sort(bySpeed(ctx));
  let best: { host: number; timing: LayerTiming; shares: MemberShare[] } | undefined;
  for (const host of ordered) {
    const shares = linkAwareShares(ctx, host, ordered);
    if (shares.some((s) => s.heads.length === 0 && s.columns.length === 0)) continue;
    const counts = shares.map((s) => ({ device: s.device, heads: s.heads.length, columns: s.columns.length }));
    const timing = groupLayerTiming(ctx, host, counts);
    if (!best || timing.totalMs < best.timing.totalMs - 1e-12) best = { host, timing, shares };
  }
  if (!best) return undefined;
  const counts = best.shares.map((s) => ({ device: s.device, heads: s.heads.length, columns: s.columns.length }));
  return {
    mask,
    host: best.host,
    devices: ordered,
    shares: best.shares,
    timing: best.timing,
    perLayer: layerUsage(ctx, best.host, counts),
    layers: layerCosts(ctx, best.host, best.shares),
  };
}

/**
 * Shares that make every member finish a part at the same time: speed-proportional, less what a
 * member loses waiting for its scatter (sent one after another, in member order) and sending its
 * partial back. The host waits for nothing, so it takes a little more than its speed alone says.
 */
function linkAwareShares(ctx: CostContext, host: number, ordered: number[]): MemberShare[] {
  const { cluster, dm, params } = ctx;
  const out = scatterBytes(dm, params);
  const back = partialBytes(dm, params);
  let clock = 0;
  const message = messageMs(dm.S * dm.H, params);
  const delay = ordered.map((d) => {
    if (d === host) return 0;
    const link = cluster.links[host]![d]!;
    clock += wireMs(out, link) + message;
    return clock + link.latencyMs + transferMs(back, cluster.links[d]![host]!) + message;
  });
  const speeds = ordered.map((d) => cluster.devices[d]!.gflops * params.efficiency); // MFLOP per ms
  const weightsFor = (workMflop: number) => {
    const total = speeds.reduce((s, g) => s + g, 0);
    const finish = (workMflop + speeds.reduce((s, g, i) => s + g * delay[i]!, 0)) / total;
    return speeds.map((g, i) => Math.max(0, g * (finish - delay[i]!)));
  };
  const heads = contiguousRanges(apportion(dm.A, weightsFor(attentionPartialFlops(dm, dm.A) / 1e6)));
  const columns = contiguousRanges(apportion(dm.F, weightsFor(ffnPartialFlops(dm, dm.F) / 1e6)));
  return ordered.map((device, i) => ({ device, heads: heads[i]!, columns: columns[i]! }));
}

/**
 * A sequence-parallel group over `devices`: speed-proportional shares (no member waits on a host's link, so
 * none needs less work), hosted by the member that gets the stage input to the others soonest. Per layer every
 * member's timing is the same whoever hosts; the host only adds the stage entry and the exit heads.
 */
export function seqGroupCandidate(ctx: CostContext, devices: number[], mask: number): Candidate | undefined {
  const ordered = [...devices].sort(bySpeed(ctx));
  const speeds = ordered.map((d) => ctx.cluster.devices[d]!.gflops);
  const shares = proportionalShares(ordered, speeds, ctx.dm.A, ctx.dm.F);
  if (shares.some((s) => s.heads.length === 0 && s.columns.length === 0)) return undefined;
  return exchangingGroup(ctx, mask, ordered, shares, 'sequence-parallel');
}

/**
 * A group whose members exchange rows among themselves: hosted by the member whose once-per-stage cost
 * (groupStageMs) is least; per layer every member's timing is the same whoever hosts.
 */
function exchangingGroup(
  ctx: CostContext,
  mask: number,
  ordered: number[],
  shares: MemberShare[],
  form: GroupForm,
): Candidate {
  const entry = ordered.map((h) => ({ h, ms: groupStageMs(ctx, form, h, shares) }));
  const host = entry.reduce((a, b) => (b.ms < a.ms - 1e-12 ? b : a));
  const layers = layerCosts(ctx, host.h, shares, form);
  return {
    mask,
    host: host.h,
    devices: ordered,
    shares,
    timing: layers[0]!.timing,
    perLayer: layers[0]!.usage,
    layers,
    form,
    entryMs: host.ms,
  };
}

/**
 * Position-parallel groups over `devices`: every member holds whole layers and runs them on its slice of the
 * positions (each member's share lists every head and column: it holds them all). Two candidates: an even split,
 * and, on unequal devices, slices sized to each device's speed (balancedPositionRows); the search keeps the faster.
 * Hosted by the member that gets the stage input out and the positions back soonest. None for models whose layers
 * share weights (ALBERT), nor for one with a layer that lost every head to pruning: their shards are not built in
 * this form.
 */
export function positionGroupCandidates(ctx: CostContext, devices: number[], mask: number): Candidate[] {
  // A layer with every head pruned has no keys or values to exchange.
  if (ctx.model.layerGroups || ctx.model.prunedHeads?.some((p) => p.length >= ctx.model.numHeads)) return [];
  const ordered = [...devices].sort(bySpeed(ctx));
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const whole = (device: number) => ({ device, heads: all(ctx.dm.A), columns: all(ctx.dm.F) });
  const even = exchangingGroup(ctx, mask, ordered, ordered.map(whole), 'position-parallel');
  const rows = balancedPositionRows(ctx, ordered);
  // A member left without positions is a smaller group's candidate.
  if (rows.some((n) => n === 0)) return [even];
  const sized = exchangingGroup(
    ctx,
    mask,
    ordered,
    ordered.map((device, i) => ({ ...whole(device), positionShare: rows[i]! })),
    'position-parallel',
  );
  // Within the model's own error the even split is the tie (on equal devices the sizes are even anyway), and ties
  // go to the simpler plan: on a Pi 5 and an Orin Nano (1.07× apart) the sized split, predicted 2% faster a layer,
  // ran 11% slower (docs/benchmarks.md).
  return sized.timing.totalMs < (1 - SIZED_POSITIONS_MARGIN) * even.timing.totalMs ? [even, sized] : [even];
}

/** How much faster a layer speed-sized positions must be predicted than an even split to be offered. */
export const SIZED_POSITIONS_MARGIN = 0.05;

/**
 * Every single device and every group of 2..maxGroupSize devices of the pool, each group in every form
 * (host-gather, sequence-parallel, position-parallel): the search keeps whichever its stage is faster with.
 */
export function buildCandidates(
  ctx: CostContext,
  pool: number[],
  maxGroupSize: number,
  forms: readonly GroupForm[] = GROUP_FORMS,
): Candidate[] {
  const out: Candidate[] = [];
  for (let mask = 1; mask < 1 << pool.length; mask++) {
    const devices = pool.filter((_, i) => mask & (1 << i));
    if (devices.length === 1) out.push(singleCandidate(ctx, devices[0]!, mask));
    else if (devices.length <= maxGroupSize) {
      const gather = forms.includes('host-gather') ? groupCandidate(ctx, devices, mask) : undefined;
      const seq = forms.includes('sequence-parallel') ? seqGroupCandidate(ctx, devices, mask) : undefined;
      for (const c of [gather, seq]) if (c) out.push(c);
      if (forms.includes('position-parallel')) out.push(...positionGroupCandidates(ctx, devices, mask));
    }
  }
  return out;
}

/** Whether every member of `c` can hold layers [start, end) (and the host its embeddings and exit heads). */
export function fitsRange(
  ctx: CostContext,
  c: Candidate,
  start: number,
  end: number,
  exitsInRange: number,
  usable: number[],
): boolean {
  for (const device of c.perLayer.keys()) {
    let u = NO_USAGE;
    // A shared layer group's shard is held once however many of its slots the range covers.
    for (const l of weightSetSlots(ctx.model, start, end)) u = addUsage(u, c.layers[l]!.usage.get(device) ?? NO_USAGE);
    if (device === c.host) u = addUsage(u, hostExtrasUsage(ctx, start === 0, exitsInRange));
    if (usageBytes(u, ctx.params) > usable[device]!) return false;
  }
  return true;
}
