import { EdgeRelayError } from '@edgerelay/proto';
import type { PolicyOutcome } from './simulate.js';

/** What calibration aims for: the fastest setting within an accuracy loss, or the most accurate at a speed. */
export type CalibrationTarget = { kind: 'accuracy-drop'; maxDrop: number } | { kind: 'speedup'; minSpeedup: number };

export class CalibrationTargetError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_CALIBRATION_TARGET';
}

const FORMS = 'accuracy-drop=D (a fraction, e.g. 0.01 for one point) or speedup=S (≥ 1, e.g. 2.5)';

export function parseTarget(spec: string): CalibrationTarget {
  const m = /^\s*(accuracy-drop|speedup)\s*=\s*([^\s]+)\s*$/.exec(spec);
  const value = m ? Number(m[2]) : NaN;
  if (!m || !Number.isFinite(value)) throw new CalibrationTargetError(`Invalid target "${spec}". Use ${FORMS}.`);
  if (m[1] === 'accuracy-drop') {
    if (value < 0 || value >= 1)
      throw new CalibrationTargetError(`accuracy-drop must be in [0, 1) (0.01 = one point), got ${value}.`);
    return { kind: 'accuracy-drop', maxDrop: value };
  }
  if (value < 1)
    throw new CalibrationTargetError(`speedup must be at least 1 (2.5 = run 40% of the layers), got ${value}.`);
  return { kind: 'speedup', minSpeedup: value };
}

export function formatTarget(target: CalibrationTarget): string {
  return target.kind === 'accuracy-drop' ? `accuracy-drop=${target.maxDrop}` : `speedup=${target.minSpeedup}`;
}

/**
 * The accuracy a setting may give up, estimated so that it holds on rows it was not tuned on: an
 * example can only lose accuracy by disagreeing with the final exit, and only if it exits early, so
 *     cost = (disagreements + 1) / (early exits + 2) × early exits / rows
 * — the rule-of-succession estimate of the disagreement rate among early exits (never 0 from a lucky
 * sample), times the share that exits early. It bounds the accuracy drop (flips that happen to fix an
 * example do not buy slack), needs no labels, and is 0 only for a setting that never exits early.
 */
export function accuracyCost(outcome: PolicyOutcome): number {
  const { examples: n, earlyExits: early, disagreements } = outcome;
  if (n === 0 || early === 0) return 0;
  return ((disagreements + 1) / (early + 2)) * (early / n);
}

export function meetsTarget(outcome: PolicyOutcome, target: CalibrationTarget): boolean {
  // A hair of tolerance so a target like 0.01 on exactly 1 of 100 rows is not lost to rounding.
  const eps = 1e-12;
  return target.kind === 'accuracy-drop'
    ? accuracyCost(outcome) <= target.maxDrop + eps
    : outcome.speedup >= target.minSpeedup - eps;
}

/**
 * Orders settings that meet the target, best first: for an accuracy budget the fewest layers run
 * (then the smallest cost); for a speed target the smallest cost (then the fewest layers).
 */
export function compareForTarget(a: PolicyOutcome, b: PolicyOutcome, target: CalibrationTarget): number {
  const byLayers = a.meanLayers - b.meanLayers;
  const byCost = accuracyCost(a) - accuracyCost(b);
  if (target.kind === 'accuracy-drop') return byLayers !== 0 ? byLayers : byCost;
  return byCost !== 0 ? byCost : byLayers;
}
