import type { FrameOf } from '@edgerelay/proto';

/**
 * Whether emulated agents kept up with their emulated devices during a measurement: each agent reports
 * (stats frame) the summed target time of its stretched shard runs and how far real compute went past
 * it. Past MAX_OVERSHOOT of the target the figure measures this machine, not the emulated cluster.
 */
export const MAX_OVERSHOOT = 0.05;

export interface EmulationCounters {
  targetMs: number;
  overshootMs: number;
  overshotRuns: number;
  runs: number;
  /** data-plane bytes the agents sent */
  bytesSent: number;
}

export const NO_COUNTERS: EmulationCounters = { targetMs: 0, overshootMs: 0, overshotRuns: 0, runs: 0, bytesSent: 0 };

/** The agents' counters added up. */
export function sumCounters(stats: FrameOf<'stats'>[]): EmulationCounters {
  return stats.reduce(
    (c, s) => ({
      targetMs: c.targetMs + (s.emulationTargetMs ?? 0),
      overshootMs: c.overshootMs + (s.emulationOvershootMs ?? 0),
      overshotRuns: c.overshotRuns + (s.emulationOvershotRuns ?? 0),
      runs: c.runs + (s.emulatedRuns ?? 0),
      bytesSent: c.bytesSent + s.bytesSent,
    }),
    NO_COUNTERS,
  );
}

export function addCounters(a: EmulationCounters, b: EmulationCounters, sign = 1): EmulationCounters {
  return {
    targetMs: a.targetMs + sign * b.targetMs,
    overshootMs: a.overshootMs + sign * b.overshootMs,
    overshotRuns: a.overshotRuns + sign * b.overshotRuns,
    runs: a.runs + sign * b.runs,
    bytesSent: a.bytesSent + sign * b.bytesSent,
  };
}

export interface EmulationVerdict {
  /** overshoot / target: how much longer than emulated the shard runs really took */
  overshoot: number;
  /** share of shard runs whose real compute alone exceeded their target */
  overshotRunShare: number;
  /** set when emulation could not keep up: the figure must not be reported */
  flag?: string;
}

export function emulationVerdict(c: EmulationCounters, maxOvershoot = MAX_OVERSHOOT): EmulationVerdict {
  const overshoot = c.targetMs > 0 ? c.overshootMs / c.targetMs : c.runs > 0 ? Infinity : 0;
  const overshotRunShare = c.runs > 0 ? c.overshotRuns / c.runs : 0;
  const verdict: EmulationVerdict = { overshoot, overshotRunShare };
  if (overshoot > maxOvershoot)
    verdict.flag =
      `emulation could not keep up: shard runs took ${(overshoot * 100).toFixed(1)}% longer than the emulated ` +
      `devices' (${c.overshotRuns} of ${c.runs} runs over target); the machine is busy or slower than the devices it plays`;
  return verdict;
}
