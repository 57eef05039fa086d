/**
 * Calibration: sweep each policy's parameter on the tuning rows, keep the fastest setting that meets
 * the target (or the most accurate at the target speed), pick the best policy, and measure the choice
 * on rows it was not tuned on.
 */
import { parseExitPolicy } from '@edgerelay/device-agent';
import { hasTrainedHalting, selectRows, type ExitRuns } from './collect.js';
import type { HaltingSignal } from '@edgerelay/device-agent';
import { simulatePolicy, type PolicyOutcome } from './simulate.js';
import { splitRows } from './split.js';
import type { PruningCalibration } from './pruning-calibrate.js';
import { compareForTarget, formatTarget, meetsTarget, type CalibrationTarget } from './target.js';
import { SWEPT_POLICIES, sweep, type SweepRow, type SweptPolicy } from './sweep.js';

export const CALIBRATION_VERSION = 1;

/** A policy's figures on a set of rows (without per-layer exit rates, which are kept once, at the top). */
export interface OutcomeSummary {
  examples: number;
  meanLayers: number;
  speedup: number;
  accuracy?: number;
  /** final exit's accuracy − this accuracy on the same rows (negative when the policy does better). */
  accuracyDrop?: number;
  lost?: number;
  agreement: number;
}

export interface PolicyChoice {
  kind: SweptPolicy | 'none';
  policy: string;
  met: boolean;
  tuning: OutcomeSummary;
  heldOut?: OutcomeSummary;
}

export interface TableRow {
  policy: string;
  kind: SweptPolicy;
  parameter: number;
  meanLayers: number;
  speedup: number;
  accuracy?: number;
  lost?: number;
  agreement: number;
  meetsTarget: boolean;
}

/** What `edgerelay calibrate` stores beside the model, and what `eval --policy calibrated` reads. */
export interface CalibrationRecord {
  version: number;
  model: string;
  data: string;
  labelled: boolean;
  /** The halting signal `dact` settings used: the checkpoint's trained units, or the entropy stand-in. */
  halting: HaltingSignal;
  /** The chosen setting, e.g. "max-prob=0.93" (parseExitPolicy reads it). */
  policy: string;
  target: string;
  /** Whether the chosen setting met the target on the tuning rows. */
  met: boolean;
  numLayers: number;
  exitLayers: number[];
  split: { holdout: number; seed: number; tuningRows: number; heldOutRows: number };
  /** The final exit's accuracy on each part (labelled data only). */
  finalAccuracy?: { tuning: number; heldOut?: number };
  tuning: OutcomeSummary;
  heldOut?: OutcomeSummary;
  /** exitRates[l]: share of all rows the chosen policy answers after 0-based layer l (the planner uses it). */
  exitRates: number[];
  /** The best setting of each policy. */
  perPolicy: PolicyChoice[];
  /** Every setting tried, on the tuning rows. */
  table: TableRow[];
  /** `calibrate --token-pruning`: the chosen schedule ("keep=…" or "none") and its sweep (token-pruning.ts). */
  tokenPruning?: string;
  pruning?: PruningCalibration;
  /** Parameter-shared models calibrated over ODE steps: the chosen K (the deployment runs it) ... */
  odeSteps?: number;
  /** ... and each K's best setting, judged against the ordinary model's final exit. */
  odeSweep?: OdeStepsChoice[];
}

export interface OdeStepsChoice {
  odeSteps: number;
  policy: string;
  met: boolean;
  tuning: OutcomeSummary;
  heldOut?: OutcomeSummary;
  /** The same K with no early exit (the final classifier after K steps), on the held-apart rows when there are any. */
  withoutExits: { rows: 'held-apart' | 'tuning'; accuracy?: number; agreement: number; meanLayers: number };
}

export interface CalibrateRunsOptions {
  target: CalibrationTarget;
  policies?: readonly SweptPolicy[];
  /** Fraction of rows held apart from tuning (0 = tune on everything, no held-out figures). */
  holdout?: number;
  seed?: number;
  model?: string;
  data?: string;
}

/** Calibrate on collected runs (no model needed), so tests and sweeps never re-run the encoder. */
export function calibrateRuns(runs: ExitRuns, options: CalibrateRunsOptions): CalibrationRecord {
  const { target } = options;
  const holdout = options.holdout ?? 0.5;
  const seed = options.seed ?? 0;
  const split = splitRows(runs.rows.length, holdout, seed);
  const tuningRuns = selectRows(runs, split.tuning);
  const heldRuns = split.heldOut.length > 0 ? selectRows(runs, split.heldOut) : undefined;
  const labelled = runs.rows.length > 0 && runs.rows.every((r) => r.label !== undefined);
  const finalTuning = finalAccuracy(tuningRuns);
  const finalHeld = heldRuns && finalAccuracy(heldRuns);

  const trained = hasTrainedHalting(runs);
  // Without trained units dact-entropy is dact itself: sweeping it twice would only repeat the rows.
  const kinds = (options.policies ?? SWEPT_POLICIES).filter((k) => trained || k !== 'dact-entropy');
  const rows = sweep(kinds, tuningRuns);
  // A choice carries its figures on the tuning rows and, re-simulated, on the held-apart rows.
  const choiceOf = (kind: PolicyChoice['kind'], policy: string, met: boolean, tuning: PolicyOutcome): PolicyChoice => {
    const held = heldRuns && simulatePolicy(parseExitPolicy(policy), heldRuns);
    return {
      kind,
      policy,
      met,
      tuning: summary(tuning, finalTuning),
      ...(held && { heldOut: summary(held, finalHeld) }),
    };
  };

  const perPolicy: PolicyChoice[] = [];
  for (const kind of kinds) {
    const pick = choose(
      rows.filter((r) => r.kind === kind),
      target,
    );
    if (pick) perPolicy.push(choiceOf(kind, pick.row.policy, pick.met, pick.row.outcome));
  }
  const best = choose(rows, target);
  // Nothing meets an accuracy budget: no early exit, which loses nothing.
  const chosen = best
    ? choiceOf(best.row.kind, best.row.policy, best.met, best.row.outcome)
    : choiceOf('none', 'none', target.kind === 'accuracy-drop', simulatePolicy({ kind: 'none' }, tuningRuns));
  if (!best) perPolicy.push(chosen);

  return {
    version: CALIBRATION_VERSION,
    model: options.model ?? '',
    data: options.data ?? '',
    labelled,
    halting: trained ? 'trained' : 'entropy',
    policy: chosen.policy,
    target: formatTarget(target),
    met: chosen.met,
    numLayers: runs.numLayers,
    exitLayers: [...runs.exitLayers],
    split: { holdout, seed, tuningRows: split.tuning.length, heldOutRows: split.heldOut.length },
    ...(finalTuning !== undefined && {
      finalAccuracy: { tuning: finalTuning, ...(finalHeld !== undefined && { heldOut: finalHeld }) },
    }),
    tuning: chosen.tuning,
    ...(chosen.heldOut && { heldOut: chosen.heldOut }),
    exitRates: simulatePolicy(parseExitPolicy(chosen.policy), runs).exitRates,
    perPolicy,
    table: rows.map((r) => ({
      policy: r.policy,
      kind: r.kind,
      parameter: r.parameter,
      meanLayers: r.outcome.meanLayers,
      speedup: r.outcome.speedup,
      ...(r.outcome.accuracy !== undefined && { accuracy: r.outcome.accuracy, lost: r.outcome.lost }),
      agreement: r.outcome.agreement,
      meetsTarget: meetsTarget(r.outcome, target),
    })),
  };
}

/**
 * The best setting meeting the target; when none does, a speed target falls back to the fastest
 * setting (met: false) and an accuracy budget to nothing (the caller then keeps every layer).
 */
function choose(candidates: SweepRow[], target: CalibrationTarget): { row: SweepRow; met: boolean } | undefined {
  const meeting = candidates
    .filter((r) => meetsTarget(r.outcome, target))
    .sort((a, b) => compareForTarget(a.outcome, b.outcome, target));
  if (meeting.length > 0) return { row: meeting[0]!, met: true };
  if (target.kind === 'speedup' && candidates.length > 0) {
    return { row: [...candidates].sort((a, b) => a.outcome.meanLayers - b.outcome.meanLayers)[0]!, met: false };
  }
  return undefined;
}

/** The final exit's accuracy on labelled runs; undefined without labels. */
export function finalAccuracy(runs: ExitRuns): number | undefined {
  // ODE-step runs are judged against the ordinary model's final exit, whose prediction each row carries.
  const rows = runs.rows;
  if (rows.length > 0 && rows.every((r) => r.reference !== undefined && r.label !== undefined)) {
    return rows.filter((r) => r.reference === r.label).length / rows.length;
  }
  return simulatePolicy({ kind: 'none' }, runs).accuracy;
}

function summary(o: PolicyOutcome, finalAcc: number | undefined): OutcomeSummary {
  return {
    examples: o.examples,
    meanLayers: o.meanLayers,
    speedup: o.speedup,
    ...(o.accuracy !== undefined && {
      accuracy: o.accuracy,
      accuracyDrop: (finalAcc ?? o.accuracy) - o.accuracy,
      lost: o.lost,
    }),
    agreement: o.agreement,
  };
}
