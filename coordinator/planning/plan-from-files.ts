/** `edgerelay plan`'s work: read the model, cluster and exit rates from files, plan, and cost the baselines. */
import { existsSync, readFileSync } from 'node:fs';
import type { FloatWireDtype } from '@edgerelay/proto';
import { join } from 'node:path';
import { EdgeRelayError } from '@edgerelay/proto';
import { checkScheduleFits, parseTokenPruning } from '@edgerelay/device-agent';
import { bestSingleDevicePlan, evenSplitPlan } from './baselines.js';
import { clusterFromFile, readClusterFile } from './cluster-file.js';
import { planCluster } from './halp-planner.js';
import { readPlannerModel } from './model-shape.js';
import { odeSchedule } from '@edgerelay/proto';
import type { Objective, PlannerOptions, PlannerResult } from './planner-types.js';

/** The files given to `edgerelay plan` do not fit together (calibration, sequence length). */
export class PlanCommandError extends EdgeRelayError {
  override readonly code = 'EDGERELAY_PLAN_COMMAND';
}

/** What `edgerelay plan` is given, as parsed options. */
export interface PlanFromFilesOptions {
  model: string;
  cluster: string;
  objective: Objective;
  seqLen?: number;
  wireDtype?: FloatWireDtype;
  exitThreshold: number;
  calibration?: string;
  exitRates?: number[];
  /** A token-pruning schedule ("keep=…" or "none"): each layer and hop costed at the tokens it leaves. */
  tokenPruning?: string;
  baselines?: boolean;
  /** Parameter-shared models: cost K applications of the shared layer (ODE steps). */
  odeSteps?: number;
}

function tokenKeepOf(spec: string | undefined, numLayers: number): { tokenKeep?: number[] } {
  const pruning = spec === undefined ? undefined : parseTokenPruning(spec);
  if (!pruning) return {};
  checkScheduleFits(pruning, numLayers);
  return { tokenKeep: pruning.keep };
}

/** Written by `edgerelay calibrate` beside the model unless told otherwise. */
const CALIBRATION_BESIDE_MODEL = 'edgerelay-calibration.json';

/** `exitRates` from the JSON `edgerelay calibrate` writes (one rate per layer, or per exit layer). */
function readExitRatesFile(file: string, numLayers: number): number[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PlanCommandError(`Cannot read calibration file ${file}: ${(err as Error).message}`);
  }
  const record = (doc ?? {}) as { exitRates?: unknown; numLayers?: unknown };
  const rates = record.exitRates;
  if (!Array.isArray(rates) || !rates.every((r) => typeof r === 'number' && r >= 0 && r <= 1)) {
    throw new PlanCommandError(
      `${file} has no "exitRates" list of fractions; write it with \`edgerelay calibrate\` or pass --exit-rates.`,
    );
  }
  if (typeof record.numLayers === 'number' && record.numLayers !== numLayers) {
    throw new PlanCommandError(
      `${file} calibrates a ${record.numLayers}-layer model, but this model has ${numLayers} layers; calibrate this model.`,
    );
  }
  return rates as number[];
}

/** Exit rates and where they came from: the command line, a calibration file, the cluster file, or the model's own calibration. */
function exitRatesFor(
  opts: PlanFromFilesOptions,
  clusterRates: number[] | undefined,
  numLayers: number,
): { rates?: number[]; source: string } {
  if (opts.exitRates) return { rates: opts.exitRates, source: '--exit-rates' };
  if (opts.calibration) return { rates: readExitRatesFile(opts.calibration, numLayers), source: opts.calibration };
  if (clusterRates) return { rates: clusterRates, source: opts.cluster };
  const beside = join(opts.model, CALIBRATION_BESIDE_MODEL);
  if (existsSync(beside)) return { rates: readExitRatesFile(beside, numLayers), source: beside };
  return { source: 'none known' };
}

export interface PlanReport extends PlannerResult {
  baselines?: {
    evenPipeline: PlannerResult;
    evenTensorParallel: PlannerResult;
    bestSingle: PlannerResult | { error: string };
  };
}

/** What `edgerelay plan` computes, without printing. */
export function planFromFiles(opts: PlanFromFilesOptions): {
  report: PlanReport;
  options: PlannerOptions;
  exitRatesSource: string;
} {
  const shape = readPlannerModel(opts.model);
  if (opts.odeSteps !== undefined && !shape.layerGroups) {
    throw new PlanCommandError(`--ode-steps needs a parameter-shared (ALBERT) model; ${opts.model} is not one.`);
  }
  if (opts.odeSteps !== undefined) odeSchedule(shape.numLayers, opts.odeSteps); // 1..L, else a clear error
  const model = opts.odeSteps === undefined ? shape : { ...shape, odeSteps: opts.odeSteps };
  const file = readClusterFile(opts.cluster);
  const cluster = clusterFromFile(file, opts.cluster);
  const seqLen = opts.seqLen ?? file.seqLen ?? Math.min(128, model.maxPositions);
  if (seqLen > model.maxPositions) {
    throw new PlanCommandError(
      `--seq-len ${seqLen} is longer than the model's ${model.maxPositions} positions; use at most ${model.maxPositions}.`,
    );
  }
  const { rates: exitRates, source } = exitRatesFor(opts, file.exitRates, model.numLayers);
  const options: PlannerOptions = {
    objective: opts.objective,
    seqLen,
    wireDtype: opts.wireDtype ?? file.wireDtype ?? 'float32',
    ...(exitRates ? { exitRates } : {}),
    ...tokenKeepOf(opts.tokenPruning, model.numLayers),
    version: 1,
    exitThreshold: opts.exitThreshold,
  };
  const report: PlanReport = planCluster(model, cluster, options);
  if (opts.baselines) {
    let bestSingle: PlannerResult | { error: string };
    try {
      bestSingle = bestSingleDevicePlan(model, cluster, options);
    } catch (err) {
      if (!(err instanceof EdgeRelayError)) throw err;
      bestSingle = { error: err.message };
    }
    report.baselines = {
      evenPipeline: evenSplitPlan(model, cluster, { ...options, style: 'pipeline' }),
      evenTensorParallel: evenSplitPlan(model, cluster, { ...options, style: 'tensor-parallel' }),
      bestSingle,
    };
  }
  return { report, options, exitRatesSource: source };
}
