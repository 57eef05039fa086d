import { formatExitPolicy, type ExitPolicy } from '@edgerelay/device-agent';
import { EdgeRelayError } from '@edgerelay/proto';
import type { ExitRuns } from './collect.js';
import { simulatePolicy, type PolicyOutcome } from './simulate.js';

/**
 * The policies calibration can tune, each with one parameter. `dact` uses the checkpoint's trained
 * halting units when it has them; `dact-entropy` is DACT with the entropy stand-in, swept beside it
 * for comparison (and skipped for checkpoints without units, where it is the same as `dact`).
 */
export const SWEPT_POLICIES = ['max-prob', 'entropy', 'patience', 'dact', 'dact-entropy'] as const;
export type SweptPolicy = (typeof SWEPT_POLICIES)[number];

export class UnknownPolicyError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_UNKNOWN_POLICY';
}

export interface SweepRow {
  /** e.g. "max-prob=0.93" */
  policy: string;
  kind: SweptPolicy;
  parameter: number;
  outcome: PolicyOutcome;
}

export function parsePolicyList(list: string): SweptPolicy[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!(SWEPT_POLICIES as readonly string[]).includes(n)) {
      throw new UnknownPolicyError(
        `Unknown policy "${n}" in --policy; choose from ${SWEPT_POLICIES.join(', ')} (comma-separated).`,
      );
    }
  }
  if (names.length === 0)
    throw new UnknownPolicyError(`--policy names no policy; choose from ${SWEPT_POLICIES.join(', ')}.`);
  return [...new Set(names)] as SweptPolicy[];
}

/** The settings tried for one policy, from the most eager to exit to the most cautious. */
export function parameterGrid(kind: SweptPolicy, runs: ExitRuns): ExitPolicy[] {
  const steps = (from: number, to: number, step: number) =>
    Array.from({ length: Math.round((to - from) / step) + 1 }, (_, i) => Number((from + i * step).toFixed(4)));
  switch (kind) {
    case 'max-prob': {
      // Below 1/C every head is "confident"; the fine top end matters for well-calibrated models.
      const lowest = Math.ceil(100 / Math.max(2, runs.numLabels)) / 100;
      return [...steps(lowest, 0.99, 0.01), 0.995, 0.999].map((threshold) => ({ kind, threshold }));
    }
    case 'entropy':
      return [...steps(1, 0.02, -0.02), 0.01, 0.005, 0.001].map((threshold) => ({ kind, threshold }));
    case 'patience':
      return steps(1, Math.max(1, runs.exitLayers.length - 1), 1).map((patience) => ({ kind, patience }));
    case 'dact':
    case 'dact-entropy': {
      const slacks = [1, 0.99, 0.98, 0.97, ...steps(0.96, 0, -0.02)];
      return slacks.map((slack) => (kind === 'dact' ? { kind, slack } : { kind: 'dact', slack, standIn: true }));
    }
  }
}

export function sweep(kinds: readonly SweptPolicy[], runs: ExitRuns): SweepRow[] {
  return kinds.flatMap((kind) =>
    parameterGrid(kind, runs).map((policy) => ({
      policy: formatExitPolicy(policy),
      kind,
      parameter: parameterOf(policy),
      outcome: simulatePolicy(policy, runs),
    })),
  );
}

export function parameterOf(policy: ExitPolicy): number {
  switch (policy.kind) {
    case 'max-prob':
    case 'entropy':
      return policy.threshold;
    case 'patience':
      return policy.patience;
    case 'dact':
      return policy.slack;
    case 'none':
      return 0;
  }
}
