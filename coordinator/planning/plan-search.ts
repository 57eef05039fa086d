import { fitsRange, type Candidate } from './candidates.js';
import { messageMs, stageInputBytes, transferMs, wireMs } from './cost-model.js';
import type { Objective } from './planner-types.js';
import { appliedSlots } from './shared-layers.js';
import { embeddingsMs, exitHeadCostMs, exitHeadMs, type CostContext } from './stage-cost.js';

export interface ChosenStage {
  start: number;
  end: number;
  candidate: Candidate;
}

export interface SearchInput {
  ctx: CostContext;
  /** Cluster device indices the search may use; candidate masks index into it. */
  pool: number[];
  candidates: Candidate[];
  reach: number[];
  objective: Objective;
  usable: number[];
  /** Token pruning (token-scale.ts): per layer, compute relative to unpruned, and rows entering a stage there. */
  computeScale?: number[];
  tokenScale?: number[];
}

const EPS = 1e-9;

/**
 * Dynamic programme over layer boundaries: state (next layer, devices used, last host), each step
 * a stage = (layer range, candidate group) on devices not used yet. Latency sums expected stage
 * and hop times; throughput minimises the busiest stage or link, then latency. Exact over the
 * candidates, which is what makes "adding a device never hurts" hold.
 */
export function searchPlan({
  ctx,
  pool,
  candidates,
  reach,
  objective,
  usable,
  computeScale,
  tokenScale,
}: SearchInput): ChosenStage[] | undefined {
  const L = ctx.model.numLayers;
  const n = pool.length;
  const M = 1 << n;
  const K = n + 1; // last host's pool position + 1; 0 before the first stage
  const size = (L + 1) * M * K;
  const index = (layer: number, mask: number, k: number) => (layer * M + mask) * K + k;
  const latency = new Float64Array(size).fill(Infinity);
  const bottleneck = new Float64Array(size).fill(Infinity);
  const parent = new Int32Array(size).fill(-1);
  const via = new Int32Array(size).fill(-1);

  const exits = new Set(ctx.model.exitLayers);
  const prefixExitReach = [0];
  const prefixExits = [0];
  const applied = appliedSlots(ctx.model); // ODE steps: slots without a step cost no compute
  for (let l = 0; l < L; l++) {
    prefixExitReach.push(prefixExitReach[l]! + (exits.has(l) ? reach[l]! * applied[l]! : 0));
    prefixExits.push(prefixExits[l]! + (exits.has(l) ? 1 : 0));
  }
  const hopBytes = stageInputBytes(ctx.dm, ctx.params);
  const hostPos = candidates.map((c) => pool.indexOf(c.host));
  const hopWire = pool.map((from) => pool.map((to) => wireMs(hopBytes, ctx.cluster.links[from]![to]!)));
  // stageCost[c][l]: expected layer time of layers [0, l) on candidate c (layers differ once heads are pruned;
  // under ODE steps only the step slots compute; token pruning scales each layer's work).
  const stageCost = candidates.map((c) => {
    const prefix = [0];
    for (let l = 0; l < L; l++)
      prefix.push(prefix[l]! + reach[l]! * applied[l]! * (computeScale?.[l] ?? 1) * c.layers[l]!.timing.totalMs);
    return prefix;
  });
  const hopLatency = pool.map((from, i) =>
    pool.map(
      (to, j) =>
        transferMs(hopBytes, ctx.cluster.links[from]![to]!) -
        hopWire[i]![j]! +
        messageMs(ctx.dm.S * ctx.dm.H, ctx.params),
    ),
  );
  const embMs = candidates.map((c) => embeddingsMs(ctx, c.host));
  const headMs = candidates.map((c) => exitHeadMs(ctx, c.host));
  // A position-parallel host runs every exit head but its stage's last while the next layer's keys and values travel.
  const hiddenHeadMs = candidates.map((c, ci) => exitHeadCostMs(headMs[ci]!, c.timing));
  // maxEnd[c][start]: the last layer boundary candidate c can hold from `start` (memory only grows with layers).
  const maxEnd = candidates.map((c) =>
    Array.from({ length: L }, (_, start) => {
      let end = start;
      while (end < L && fitsRange(ctx, c, start, end + 1, prefixExits[end + 1]! - prefixExits[start]!, usable)) end++;
      return end;
    }),
  );

  latency[index(0, 0, 0)] = 0;
  bottleneck[index(0, 0, 0)] = 0;
  for (let a = 0; a < L; a++) {
    for (let mask = 0; mask < M; mask++) {
      for (let k = 0; k < K; k++) {
        const s = index(a, mask, k);
        if (latency[s] === Infinity) continue;
        candidates.forEach((c, ci) => {
          if (c.mask & mask) return;
          // Under token pruning the hidden state entering layer a carries only its kept rows.
          const rows = tokenScale?.[a] ?? 1;
          const incomingWire = k === 0 ? 0 : rows * hopWire[k - 1]![hostPos[ci]!]!;
          // A sequence-parallel stage also pays its host's send of the input to the members, once.
          const incoming = (k === 0 ? 0 : hopLatency[k - 1]![hostPos[ci]!]! + incomingWire) + (c.entryMs ?? 0);
          const enter = latency[s]! + reach[a]! * incoming;
          for (let b = a + 1; b <= maxEnd[ci]![a]!; b++) {
            const stage =
              stageCost[ci]![b]! -
              stageCost[ci]![a]! +
              (a === 0 ? embMs[ci]! : 0) +
              (prefixExitReach[b - 1]! - prefixExitReach[a]!) * hiddenHeadMs[ci]! +
              (prefixExitReach[b]! - prefixExitReach[b - 1]!) * headMs[ci]!;
            const lat = enter + stage;
            const bot = Math.max(bottleneck[s]!, stage, reach[a]! * incomingWire);
            const t = index(b, mask | c.mask, hostPos[ci]! + 1);
            if (!better(objective, lat, bot, latency[t]!, bottleneck[t]!)) continue;
            latency[t] = lat;
            bottleneck[t] = bot;
            parent[t] = s;
            via[t] = ci;
          }
        });
      }
    }
  }

  let best = -1;
  for (let mask = 0; mask < M; mask++) {
    for (let k = 1; k < K; k++) {
      const t = index(L, mask, k);
      if (latency[t] === Infinity) continue;
      if (best < 0 || better(objective, latency[t]!, bottleneck[t]!, latency[best]!, bottleneck[best]!)) best = t;
    }
  }
  if (best < 0) return undefined;
  const stages: ChosenStage[] = [];
  for (let t = best; parent[t]! >= 0; t = parent[t]!) {
    const end = Math.floor(t / (M * K));
    const start = Math.floor(parent[t]! / (M * K));
    stages.unshift({ start, end, candidate: candidates[via[t]!]! });
  }
  return stages;
}

function better(objective: Objective, lat: number, bot: number, curLat: number, curBot: number): boolean {
  if (curLat === Infinity) return lat < Infinity;
  if (objective === 'latency') return lat < curLat - EPS * Math.max(1, curLat);
  if (bot < curBot - EPS * Math.max(1, curBot)) return true;
  return bot <= curBot + EPS * Math.max(1, curBot) && lat < curLat - EPS * Math.max(1, curLat);
}
