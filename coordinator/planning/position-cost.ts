import { positionRows } from '@edgerelay/proto';
import {
  combineFlops,
  ffnPartialFlops,
  hiddenWireBytes,
  layerPartFlops,
  messageMs,
  wholeLayerWeightBytes,
  activationBytes,
  rowsRunMs,
  wireMs,
  type Dims,
} from './cost-model.js';
import { linearWeightBytes } from './int8-speed.js';
import { entrySendsMs } from './seq-cost.js';
import type { CostContext, LayerTiming, PositionMember, Usage } from './stage-cost.js';

/** A position-parallel member's two runs on its n positions (device-agent/executor/position-run.ts). */
export function keysValuesFlops({ H, d }: Dims, n: number, heads: number): number {
  return 2 * n * H * 2 * heads * d + 2 * n * heads * d;
}

export function positionLayerFlops(dm: Dims, n: number, heads = dm.A): number {
  const rows = { ...dm, S: n };
  const p = layerPartFlops(rows, heads, 0);
  // Queries of n positions against all S keys: the attention term is n·S where a whole layer's is S·S.
  const attention = (p.attention * dm.S) / n;
  const query = p.qkv / 3;
  return query + attention + p.outProjection + ffnPartialFlops(rows, dm.F) + 2 * combineFlops(rows, 1);
}

/** The few-row term of position shards: feature-major for float32 weights, row-major for int8 (feature-major.ts). */
function positionRunRows({ model, params }: CostContext): number {
  return model.weightDtype === 'int8' ? params.smallRunRows : params.featureMajorRunRows;
}

/** How many of `seq` positions each member (in position order) owns, as the agents split them. */
export function memberRows(seq: number, members: PositionMember[]): number[] {
  return positionRows(
    seq,
    members.map((m) => m.share),
  ).map(([a, b]) => b - a);
}

/**
 * Time of one layer of a position-parallel group (docs/sequence-parallel.md): every member projects its positions
 * to keys and values, sends them to every other member and gathers theirs (one phase: a sender's transfers leave
 * one after another through its uplink, a receiver's arrive through its downlink), then runs the rest of the layer
 * on its positions. A run pays the per-value part of the run overhead for the rows it binds: n of S for the keys
 * and values, n + 2·S for the position layer (its own rows, and every position's keys and values).
 */
export function positionLayerTiming(ctx: CostContext, members: PositionMember[], heads = ctx.dm.A): LayerTiming {
  const { dm, params, cluster } = ctx;
  const N = members.length;
  const devices = members.map((m) => m.device);
  const rows = memberRows(dm.S, members);
  const busyMs = new Map<number, number>();
  /** A run of member i on its rows, binding `bound` rows of activations. */
  const run = (i: number, flops: number, bound: number) => {
    const ms = rowsRunMs(
      flops,
      cluster.devices[devices[i]!]!.gflops,
      params,
      dm,
      rows[i]!,
      bound,
      positionRunRows(ctx),
    );
    busyMs.set(devices[i]!, (busyMs.get(devices[i]!) ?? 0) + ms);
    return ms;
  };
  const kvReady = rows.map((n, i) => (n > 0 ? run(i, keysValuesFlops(dm, n, heads), n) : 0));
  const up = [...kvReady];
  const down = new Array<number>(N).fill(0);
  const gathered = [...kvReady];
  // Members send in ring order (position-run.ts): in round k member i sends to member i + k, so each round every
  // member's downlink takes one block; a receiver takes its blocks one after another.
  const sends = Array.from({ length: N - 1 }, (_, k) =>
    rows.flatMap((n, i) => (n > 0 ? [{ i, j: (i + 1 + k) % N, n }] : [])),
  ).flat();
  for (const { i, j, n } of sends) {
    const link = cluster.links[devices[i]!]![devices[j]!]!;
    const ms =
      wireMs(hiddenWireBytes({ ...dm, S: 2 * n }, params.wireDtype) + params.frameOverheadBytes, link) +
      messageMs(2 * n * dm.H, params);
    up[i] = up[i]! + ms;
    down[j] = Math.max(down[j]! + ms, up[i]!);
    gathered[j] = Math.max(gathered[j]!, down[j]! + link.latencyMs);
  }
  // The position layer binds every position's keys and values (2·S rows of H values) besides its own n rows.
  const done = rows.map((n, i) => (n > 0 ? gathered[i]! + run(i, positionLayerFlops(dm, n, heads), n + 2 * dm.S) : 0));
  const totalMs = Math.max(...done);
  const computeMs = Math.max(0, ...busyMs.values());
  return { totalMs, computeMs: Math.min(computeMs, totalMs), busyMs, hostSlackMs: gathered[0]! - kvReady[0]! };
}

/**
 * Positions per member (in `devices` order) that even out the members' two runs a layer on unequal devices: each
 * position goes to the member whose runs would end soonest with it, so a faster device takes more, and a slow one
 * fewer than its speed alone would give where small runs cost it more per row (the cost model's smallRunRows).
 */
export function balancedPositionRows(ctx: CostContext, devices: number[], heads = ctx.dm.A): number[] {
  const { dm, params, cluster } = ctx;
  const runsMs = (i: number, n: number) => {
    const g = cluster.devices[devices[i]!]!.gflops;
    return (
      rowsRunMs(keysValuesFlops(dm, n, heads), g, params, dm, n, n, positionRunRows(ctx)) +
      rowsRunMs(positionLayerFlops(dm, n, heads), g, params, dm, n, n + 2 * dm.S, positionRunRows(ctx))
    );
  };
  const rows = devices.map(() => 0);
  for (let k = 0; k < dm.S; k++) {
    let best = 0;
    for (let i = 1; i < devices.length; i++) if (runsMs(i, rows[i]! + 1) < runsMs(best, rows[best]! + 1)) best = i;
    rows[best]!++;
  }
  return rows;
}

/**
 * Once per stage: the host sends the stage input to every member, and after the stage's last layer every member
 * sends its positions back to the host (one after another through the host's downlink).
 */
export function positionStageMs(ctx: CostContext, members: PositionMember[]): number {
  const { dm, params, cluster } = ctx;
  const devices = members.map((m) => m.device);
  const host = devices[0]!;
  const others = devices.slice(1);
  const rows = memberRows(dm.S, members).slice(1);
  let down = 0;
  others.forEach((d, k) => {
    const n = rows[k]!;
    if (n === 0) return;
    const link = cluster.links[d]![host]!;
    down += wireMs(hiddenWireBytes({ ...dm, S: n }, params.wireDtype) + params.frameOverheadBytes, link);
    down += messageMs(n * dm.H, params);
  });
  const latency = Math.max(0, ...others.map((d) => cluster.links[d]![host]!.latencyMs));
  // The host sends each member only its positions (device-agent PositionRun.memberInputs).
  const entry = entrySendsMs(
    ctx,
    host,
    others.map((device, k) => ({ device, rows: rows[k]! })),
  );
  return entry + down + latency;
}

/** Every member holds whole layers (two sessions each); activations of its n positions against every key. */
export function positionLayerUsage(ctx: CostContext, n: number, heads = ctx.dm.A): Usage {
  const { dm, model } = ctx;
  return {
    weights: linearWeightBytes(model, wholeLayerWeightBytes(dm, heads)),
    sessions: 2,
    activation: Math.max(activationBytes({ ...dm, S: n }, heads, dm.F), 3 * dm.S * dm.H * 4),
  };
}
