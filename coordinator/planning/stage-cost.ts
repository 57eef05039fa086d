import { positionRows, type GroupForm } from '@edgerelay/proto';
import type { ClusterModel } from './cluster-model.js';
import { clusterForWeights, linearWeightBytes } from './int8-speed.js';
import {
  activationBytes,
  attentionPartialFlops,
  attentionPartialWeightBytes,
  combineFlops,
  combineWeightBytes,
  computeMs,
  dims,
  embeddingsFlops,
  embeddingsWeightBytes,
  exitHeadFlops,
  exitHeadWeightBytes,
  ffnPartialFlops,
  ffnPartialWeightBytes,
  partialBytes,
  scatterBytes,
  wholeLayerFlops,
  wholeLayerWeightBytes,
  wireMs,
  type CostParams,
  type Dims,
  type PlannerModel,
  messageMs,
} from './cost-model.js';
import { seqCombineUsage, seqEntryMs, seqLayerTiming } from './seq-cost.js';
import { positionLayerTiming, positionLayerUsage, positionStageMs } from './position-cost.js';

/** A position-parallel member: its device, and its share of the positions (absent: an even split). */
export interface PositionMember {
  device: number;
  share?: number;
}

/** A position-parallel group's members in position order: the host first (proto positionOrder). */
export function positionMembers(host: number, members: { device: number; positionShare?: number }[]): PositionMember[] {
  const of = (m: { device: number; positionShare?: number }) => ({
    device: m.device,
    ...(m.positionShare !== undefined && { share: m.positionShare }),
  });
  return [...members.filter((m) => m.device === host), ...members.filter((m) => m.device !== host)].map(of);
}

/**
 * Time and memory of one stage, as the agents run it (device-agent/executor/stage-executor.ts):
 * a group host sends the scatter to every member that holds a share of the part, computes its own
 * share meanwhile, sums the partials as they come back and runs the combine; attention, then FFN.
 */

export interface CostContext {
  model: PlannerModel;
  cluster: ClusterModel;
  params: CostParams;
  dm: Dims;
}

export function costContext(model: PlannerModel, cluster: ClusterModel, params: CostParams): CostContext {
  const dm = dims(model, params.seqLen);
  // Per-run overhead grows with the activations a run binds and copies out.
  const opOverheadMflop = params.opOverheadMflop + (params.opOverheadFlopsPerValue * dm.S * dm.H) / 1e6;
  return { model, cluster: clusterForWeights(model, cluster, dm), params: { ...params, opOverheadMflop }, dm };
}

/** A member's share in counts (the cost does not depend on which heads). */
export interface ShareCount {
  device: number;
  heads: number;
  columns: number;
  /**
   * Whether the member runs an attention share at all. Plans name heads per stage, so in a layer whose
   * pruning took all of a member's heads it still gets the scatter and returns a zero partial (heads 0,
   * attends true). Defaults to heads > 0.
   */
  attends?: boolean;
  /** Position-parallel: the member's share of the positions (absent: an even split). */
  positionShare?: number;
}

export interface LayerTiming {
  /** Critical path of one layer: compute, scatter and gather. */
  totalMs: number;
  /** Compute on that path (slowest member's share, then the combine). */
  computeMs: number;
  /** Compute time per device for one layer (devices absent did nothing). */
  busyMs: Map<number, number>;
  /**
   * Position-parallel: how long the host waits for the others' keys and values after sending its own. It runs the
   * previous layer's exit head in that wait (device-agent stage-executor), so a head costs the layer only its excess.
   */
  hostSlackMs?: number;
}

/** An exit head's cost to the critical path when the next layer (`next`, if in the stage) can hide it. */
export function exitHeadCostMs(headMs: number, next: LayerTiming | undefined): number {
  return Math.max(0, headMs - (next?.hostSlackMs ?? 0));
}

const gflops = (ctx: CostContext, device: number) => ctx.cluster.devices[device]!.gflops;

/** A whole layer on one device; `heads` is what the layer has left (all, unless heads were pruned). */
export function wholeLayerTiming(ctx: CostContext, device: number, heads = ctx.dm.A): LayerTiming {
  const ms = computeMs(wholeLayerFlops(ctx.dm, heads), gflops(ctx, device), 1, ctx.params);
  return { totalMs: ms, computeMs: ms, busyMs: new Map([[device, ms]]) };
}

function partTiming(
  ctx: CostContext,
  host: number,
  members: ShareCount[],
  part: 'attention' | 'ffn',
  busy: Map<number, number>,
) {
  const { dm, params, cluster } = ctx;
  const flops = (m: ShareCount) =>
    part === 'attention' ? attentionPartialFlops(dm, m.heads) : ffnPartialFlops(dm, m.columns);
  const holds = (m: ShareCount) => (part === 'attention' ? (m.attends ?? m.heads > 0) : m.columns > 0);
  const own = members.find((m) => m.device === host && holds(m));
  const owners = members.filter((m) => m.device !== host && holds(m));
  const out = scatterBytes(dm, params);
  const back = partialBytes(dm, params);
  // Scatters leave one after another through the host's network interface.
  let sendClock = 0;
  const ready = owners.map((m) => {
    const link = cluster.links[host]![m.device]!;
    sendClock += wireMs(out, link) + messageMs(dm.S * dm.H, params);
    const c = computeMs(flops(m), gflops(ctx, m.device), 1, params);
    busy.set(m.device, (busy.get(m.device) ?? 0) + c);
    return { m, compute: c, at: sendClock + link.latencyMs + c };
  });
  // Partials come back one after another through the same interface, in the order they are ready.
  let recvClock = 0;
  for (const r of [...ready].sort((x, y) => x.at - y.at)) {
    const link = cluster.links[r.m.device]![host]!;
    recvClock = Math.max(recvClock, r.at + link.latencyMs) + wireMs(back, link) + messageMs(dm.S * dm.H, params);
  }
  const ownMs = own ? computeMs(flops(own), gflops(ctx, host), 1, params) : 0;
  const combine = computeMs(combineFlops(dm, owners.length + (own ? 1 : 0)), gflops(ctx, host), 1, params);
  busy.set(host, (busy.get(host) ?? 0) + ownMs + combine);
  return {
    totalMs: Math.max(ownMs, recvClock) + combine,
    computeMs: Math.max(ownMs, ...ready.map((r) => r.compute)) + combine,
  };
}

export function groupLayerTiming(ctx: CostContext, host: number, members: ShareCount[]): LayerTiming {
  const busyMs = new Map<number, number>();
  const a = partTiming(ctx, host, members, 'attention', busyMs);
  const f = partTiming(ctx, host, members, 'ffn', busyMs);
  return { totalMs: a.totalMs + f.totalMs, computeMs: a.computeMs + f.computeMs, busyMs };
}

export function layerTiming(
  ctx: CostContext,
  host: number,
  members: ShareCount[],
  heads = ctx.dm.A,
  form: GroupForm = 'host-gather',
): LayerTiming {
  if (members.length === 0) return wholeLayerTiming(ctx, host, heads);
  if (form === 'position-parallel') return positionLayerTiming(ctx, positionMembers(host, members), heads);
  return form === 'sequence-parallel' ? seqLayerTiming(ctx, members) : groupLayerTiming(ctx, host, members);
}

/**
 * Once per stage of a group whose members exchange rows: a sequence-parallel host sends the stage input to every
 * member, a position-parallel one also gathers the members' positions after the last layer; host-gather: nothing.
 */
export function groupStageMs(
  ctx: CostContext,
  form: GroupForm,
  host: number,
  members: { device: number; positionShare?: number }[],
): number {
  if (form === 'sequence-parallel')
    return seqEntryMs(
      ctx,
      host,
      members.map((m) => m.device),
    );
  if (form === 'position-parallel') return positionStageMs(ctx, positionMembers(host, members));
  return 0;
}

export function embeddingsMs(ctx: CostContext, host: number): number {
  return computeMs(embeddingsFlops(ctx.dm), gflops(ctx, host), 1, ctx.params);
}

export function exitHeadMs(ctx: CostContext, host: number): number {
  return computeMs(exitHeadFlops(ctx.dm, ctx.model.numLabels), gflops(ctx, host), 1, ctx.params);
}

// ---- memory ----

/** What a device holds: weight bytes, loaded sessions, and the largest intermediate tensors of any one run. */
export interface Usage {
  weights: number;
  sessions: number;
  activation: number;
}

export const NO_USAGE: Usage = { weights: 0, sessions: 0, activation: 0 };

export function addUsage(a: Usage, b: Usage, times = 1): Usage {
  return {
    weights: a.weights + times * b.weights,
    sessions: a.sessions + times * b.sessions,
    activation: Math.max(a.activation, b.activation),
  };
}

export function usageBytes(u: Usage, params: CostParams): number {
  return u.weights + u.sessions * params.sessionOverheadBytes + u.activation;
}

/** Per device, what one layer of the stage costs in memory (group hosts hold the combine shards). */
export function layerUsage(
  ctx: CostContext,
  host: number,
  members: ShareCount[],
  heads = ctx.dm.A,
  form: GroupForm = 'host-gather',
): Map<number, Usage> {
  const { dm, model } = ctx;
  const usage = new Map<number, Usage>();
  const add = (device: number, u: Usage) => usage.set(device, addUsage(usage.get(device) ?? NO_USAGE, u));
  if (members.length === 0) {
    const weights = linearWeightBytes(model, wholeLayerWeightBytes(dm, heads));
    add(host, { weights, sessions: 1, activation: activationBytes(dm, heads, dm.F) });
    return usage;
  }
  if (form === 'position-parallel') {
    const ordered = positionMembers(host, members);
    const rows = positionRows(
      ctx.dm.S,
      ordered.map((m) => m.share),
    );
    ordered.forEach((m, i) => add(m.device, positionLayerUsage(ctx, rows[i]![1] - rows[i]![0], heads)));
    return usage;
  }
  add(host, { weights: combineWeightBytes(dm), sessions: 2, activation: 2 * dm.S * dm.H * 4 });
  // Sequence-parallel: every member combines its own rows (the host's shards are counted once).
  if (form === 'sequence-parallel')
    for (const m of members) if (m.device !== host) add(m.device, seqCombineUsage(ctx, 1 / members.length));
  for (const m of members) {
    add(m.device, {
      weights: linearWeightBytes(
        model,
        attentionPartialWeightBytes(dm, m.heads) + ffnPartialWeightBytes(dm, m.columns),
      ),
      sessions: ((m.attends ?? m.heads > 0) ? 1 : 0) + (m.columns > 0 ? 1 : 0),
      activation: activationBytes(dm, m.heads, m.columns),
    });
  }
  return usage;
}

/** The host's shards besides its layers: embeddings on stage 0, and the exit heads of `exits` layers. */
export function hostExtrasUsage(ctx: CostContext, firstStage: boolean, exits: number): Usage {
  const { dm, model } = ctx;
  const embeddings: Usage = firstStage
    ? { weights: embeddingsWeightBytes(model), sessions: 1, activation: 2 * dm.S * dm.H * 4 }
    : NO_USAGE;
  const head = linearWeightBytes(model, exitHeadWeightBytes(dm, model.numLabels));
  return addUsage(embeddings, { weights: head, sessions: 1, activation: 0 }, exits);
}
