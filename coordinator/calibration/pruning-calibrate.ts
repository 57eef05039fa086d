/**
 * `calibrate --token-pruning`: sweep token-pruning schedules, alone and with every exit-policy setting
 * of the swept policies, on the tuning rows; keep the cheapest (fewest encoder FLOPs) that meets the
 * target, and measure it on the held-apart rows. Pure: it works on runs collected once per schedule.
 */
import { formatExitPolicy, parseExitPolicy, type ExitPolicy } from '@edgerelay/device-agent';
import { scheduleForSpeedup, type LayerShape } from '../pruning/index.js';
import { formatKeep } from '@edgerelay/device-agent';
import { selectRows, type ExitRuns } from './collect.js';
import { simulatePruning, type PruningOutcome } from './pruning-outcome.js';
import { splitRows } from './split.js';
import { parameterGrid, type SweptPolicy } from './sweep.js';
import type { CalibrationTarget } from './target.js';

export interface PruningRow {
  /** "keep=…" */
  schedule: string;
  /** exit policy run with it ("none" = pruning alone) */
  policy: string;
  flopsRatio: number;
  accuracy?: number;
  agreement: number;
  /** estimated accuracy cost (pruningCost) */
  cost: number;
  meetsTarget: boolean;
}

export interface PruningChoice {
  schedule: string;
  policy: string;
  met: boolean;
  tuning: PruningOutcome;
  heldOut?: PruningOutcome;
}

export interface PruningCalibration {
  /** the best setting with pruning alone (policy none) */
  alone: PruningChoice;
  /** the best setting over pruning × exit policies (equal to `alone` with --policy none) */
  joint: PruningChoice;
  /** every (schedule, policy) tried, on the tuning rows; policies thinned to the best per schedule */
  table: PruningRow[];
  /** the unpruned final exit's accuracy on the tuning / held-apart rows */
  finalAccuracy?: { tuning?: number; heldOut?: number };
}

/**
 * The accuracy a setting may give up, estimated for rows it was not tuned on: any row may change
 * under pruning, so the rule-of-succession estimate of the disagreement rate, (d + 1) / (n + 2);
 * 0 only for the unpruned model without early exits.
 */
export function pruningCost(o: PruningOutcome): number {
  if (o.flopsRatio >= 1 - 1e-12 && o.earlyExits === 0) return 0;
  return (o.disagreements + 1) / (o.examples + 2);
}

function meets(o: PruningOutcome, target: CalibrationTarget): boolean {
  return target.kind === 'accuracy-drop'
    ? pruningCost(o) <= target.maxDrop + 1e-12
    : o.flopsRatio > 0 && 1 / o.flopsRatio >= target.minSpeedup - 1e-12;
}

/** Cheapest first for an accuracy budget; most accurate (then cheapest) for a speed target. */
function better(a: PruningOutcome, b: PruningOutcome, target: CalibrationTarget): number {
  const byFlops = a.flopsRatio - b.flopsRatio;
  const byCost = pruningCost(a) - pruningCost(b);
  return target.kind === 'accuracy-drop' ? byFlops || byCost : byCost || byFlops;
}

/**
 * Schedules to sweep for a model: the speed-up model's inversions (least pruning early on) for
 * speed-ups 1.1…4 at floors 0.2 / 0.35 / 0.5 (at the data's mean length), steps (all tokens up to a layer,
 * then 30 / 50 / 70 %) and linear decays from layer 1.
 */
export function candidateSchedules(shape: LayerShape, meanLength: number): number[][] {
  const out = new Map<string, number[]>();
  const add = (keep: number[]) => out.set(formatKeep(keep), keep);
  add(new Array<number>(shape.numLayers).fill(1));
  for (const floor of [0.2, 0.35, 0.5])
    for (let s = 1.1; s <= 4.001; s += 0.15) {
      try {
        add(scheduleForSpeedup(shape, Number(s.toFixed(2)), meanLength, { floor }).keep);
      } catch {
        break; // out of reach at this floor
      }
    }
  // Steps: every token up to layer s, then a constant share.
  for (let s = 1; s < shape.numLayers; s++)
    for (const r of [0.3, 0.5, 0.7]) add(Array.from({ length: shape.numLayers }, (_, l) => (l < s ? 1 : r)));
  for (const end of [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    add(
      Array.from({ length: shape.numLayers }, (_, l) =>
        l === 0 ? 1 : Number((1 - ((1 - end) * l) / (shape.numLayers - 1)).toFixed(4)),
      ),
    );
  return [...out.values()];
}

export interface PruningSweepInput {
  shape: LayerShape;
  target: CalibrationTarget;
  /** runs without pruning (the reference answers) */
  reference: ExitRuns;
  /** runs under each schedule, same rows in the same order */
  pruned: { schedule: string; runs: ExitRuns }[];
  /** exit policies to sweep with the schedules; empty = pruning alone */
  policies: readonly SweptPolicy[];
  holdout: number;
  seed: number;
}

export function calibratePruning(input: PruningSweepInput): PruningCalibration {
  const { shape, target, reference } = input;
  const split = splitRows(reference.rows.length, input.holdout, input.seed);
  const tuneRef = selectRows(reference, split.tuning);
  const heldRef = split.heldOut.length > 0 ? selectRows(reference, split.heldOut) : undefined;
  const none: ExitPolicy = { kind: 'none' };
  const policies: ExitPolicy[] = [none, ...input.policies.flatMap((k) => parameterGrid(k, reference))];
  type Tried = { schedule: string; policy: string; runs: ExitRuns; outcome: PruningOutcome };
  const tried: Tried[] = [];
  for (const { schedule, runs } of input.pruned) {
    const tune = selectRows(runs, split.tuning);
    for (const policy of policies)
      tried.push({
        schedule,
        policy: formatExitPolicy(policy),
        runs,
        outcome: simulatePruning(shape, tune, tuneRef, policy),
      });
  }
  const choose = (rows: Tried[]): PruningChoice => {
    const meeting = rows.filter((r) => meets(r.outcome, target)).sort((a, b) => better(a.outcome, b.outcome, target));
    // Nothing meets an accuracy budget: the unpruned model; a speed target: the cheapest tried.
    const fallback =
      target.kind === 'accuracy-drop'
        ? rows.find((r) => r.outcome.flopsRatio >= 1 - 1e-12 && r.policy === 'none')
        : [...rows].sort((a, b) => a.outcome.flopsRatio - b.outcome.flopsRatio)[0];
    const pick = meeting[0] ?? fallback ?? rows[0]!;
    const held =
      heldRef && simulatePruning(shape, selectRows(pick.runs, split.heldOut), heldRef, parseExitPolicy(pick.policy));
    return {
      schedule: pick.schedule,
      policy: pick.policy,
      met: meeting.length > 0,
      tuning: pick.outcome,
      ...(held && { heldOut: held }),
    };
  };
  const alone = choose(tried.filter((r) => r.policy === 'none'));
  const joint = input.policies.length === 0 ? alone : choose(tried);
  // The table keeps, per schedule, pruning alone and its best exit setting: the curves the plot draws.
  const table: PruningRow[] = [];
  for (const { schedule } of input.pruned) {
    const mine = tried.filter((r) => r.schedule === schedule);
    const bestExit = mine
      .filter((r) => r.policy !== 'none' && meets(r.outcome, target))
      .sort((a, b) => better(a.outcome, b.outcome, target))[0];
    for (const r of [mine.find((m) => m.policy === 'none')!, ...(bestExit ? [bestExit] : [])])
      table.push({
        schedule,
        policy: r.policy,
        flopsRatio: r.outcome.flopsRatio,
        ...(r.outcome.accuracy !== undefined && { accuracy: r.outcome.accuracy }),
        agreement: r.outcome.agreement,
        cost: pruningCost(r.outcome),
        meetsTarget: meets(r.outcome, target),
      });
  }
  const acc = (runs: ExitRuns | undefined) => runs && simulatePruning(shape, runs, runs, none).accuracy;
  return {
    alone,
    joint,
    table,
    finalAccuracy: { tuning: acc(tuneRef), heldOut: acc(heldRef) },
  };
}
