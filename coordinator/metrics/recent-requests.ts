import type { ClassificationOutcome } from '../api/backend.js';

/** One answered text as the operator's views show it. */
export interface RecentRequest {
  /** Wall-clock time of the answer, ms since the epoch. */
  at: number;
  label: string;
  score: number;
  /** 1-based layer whose classifier answered. */
  exitLayer: number;
  early: boolean;
  degraded: boolean;
  totalMs: number;
  /** Stage hosts in order, each with its group members and compute time. */
  path: { agent: string; stage: number; members: string[]; computeMs: number }[];
}

/** What the recent window says about latency and where requests exit. */
export interface RecentSummary {
  requests: number;
  p50Ms: number | null;
  p95Ms: number | null;
  earlyExitShare: number | null;
  /** 1-based exit layer → share of the window's requests answered there. */
  exitLayers: Record<string, number>;
  /** stage → median compute ms over the window. */
  stageMedianMs: Record<string, number>;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The last `capacity` answers, oldest dropped first: bounded memory, whatever the traffic. */
export class RecentRequests {
  private readonly ring: RecentRequest[] = [];

  constructor(private readonly capacity = 200) {}

  observeOutcome(o: ClassificationOutcome): void {
    this.ring.push({
      at: Date.now(),
      label: o.scores[0]?.label ?? '',
      score: o.scores[0]?.score ?? 0,
      exitLayer: o.exitLayer,
      early: o.early,
      degraded: !!o.degraded,
      totalMs: o.totalMs,
      path: o.hops.map((h) => ({ agent: h.agent, stage: h.stage, members: h.members, computeMs: h.computeMs })),
    });
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
  }

  /** Newest first. */
  list(limit = this.capacity): RecentRequest[] {
    return this.ring.slice(-limit).reverse();
  }

  summary(): RecentSummary {
    const n = this.ring.length;
    const latencies = this.ring.map((r) => r.totalMs).sort((a, b) => a - b);
    const exitLayers: Record<string, number> = {};
    const stageTimes = new Map<number, number[]>();
    for (const r of this.ring) {
      exitLayers[r.exitLayer] = (exitLayers[r.exitLayer] ?? 0) + 1 / n;
      for (const hop of r.path) stageTimes.set(hop.stage, [...(stageTimes.get(hop.stage) ?? []), hop.computeMs]);
    }
    const stageMedianMs: Record<string, number> = {};
    for (const [stage, times] of stageTimes)
      stageMedianMs[stage] = quantile(
        times.sort((a, b) => a - b),
        0.5,
      )!;
    return {
      requests: n,
      p50Ms: quantile(latencies, 0.5),
      p95Ms: quantile(latencies, 0.95),
      earlyExitShare: n ? this.ring.filter((r) => r.early).length / n : null,
      exitLayers,
      stageMedianMs,
    };
  }
}
