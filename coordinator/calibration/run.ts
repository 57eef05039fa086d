/** The model-running half of calibration: read the data, run it once through every exit, calibrate, store. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readTextExamples } from '../datasets/index.js';
import { openReferenceModel, type ModelOptions } from '../reference/index.js';
import { calibrateRuns, type CalibrationRecord } from './calibrate.js';
import { collectExitRuns, type CollectOptions, type ExitRuns } from './collect.js';
import { plotCalibration } from './plot.js';
import { defaultCalibrationPath, writeCalibration } from './store.js';
import type { SweptPolicy } from './sweep.js';
import type { CalibrationTarget } from './target.js';
import { parseExitPolicy } from '@edgerelay/device-agent';
import { readPlannerModel } from '../planning/index.js';
import { calibratePruning } from './pruning-calibrate.js';
import { collectPruningSweep } from './pruning-run.js';
import { simulatePolicy } from './simulate.js';
import type { TextInput } from '../tokenizer/index.js';

export interface CollectFileOptions {
  model: string;
  data: string;
  threads?: number;
  maxLength?: number;
  batchSize?: number;
  odeSteps?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Every exit's probabilities for every row of a labelled TSV or a text file. */
export async function collectFromFile(options: CollectFileOptions): Promise<ExitRuns> {
  const data = readTextExamples(options.data);
  return collectWithModel(options, data.texts, data.labels);
}

/** Opens the model, runs `texts` once through every exit, and releases the model again. */
export async function collectWithModel(
  options: ModelOptions & CollectOptions,
  texts: readonly TextInput[],
  labels?: number[],
): Promise<ExitRuns> {
  const { checkpoint, runner } = await openReferenceModel(options);
  try {
    return await collectExitRuns(runner, checkpoint, texts, labels, options);
  } finally {
    await runner.release();
  }
}

export interface CalibrateOptions extends CollectFileOptions {
  target: CalibrationTarget;
  policies?: readonly SweptPolicy[];
  holdout?: number;
  seed?: number;
  /** Calibration JSON to write; default <model>/edgerelay-calibration.json. */
  out?: string;
  /** PNG of the curves; default beside the JSON, same name with .png. */
  plot?: string;
  /** Also sweep token-pruning schedules, alone and with the policies, and store the cheapest meeting the target. */
  tokenPruning?: boolean;
}

export interface CalibrateResult {
  record: CalibrationRecord;
  out: string;
  plot: string;
}

export async function calibrate(options: CalibrateOptions): Promise<CalibrateResult> {
  if (options.tokenPruning) return calibrateWithPruning(options);
  const runs = await collectFromFile(options);
  const record = calibrateRuns(runs, { ...options, model: resolve(options.model), data: resolve(options.data) });
  return store(options, record);
}

/** Exit calibration on the unpruned runs as without pruning, then the pruning sweep over the same split. */
async function calibrateWithPruning(options: CalibrateOptions): Promise<CalibrateResult> {
  const shape = readPlannerModel(options.model);
  const sweep = await collectPruningSweep(options, shape);
  const where = { model: resolve(options.model), data: resolve(options.data) };
  const record = calibrateRuns(sweep.reference, { ...options, ...where });
  const pruning = calibratePruning({
    shape,
    target: options.target,
    reference: sweep.reference,
    pruned: sweep.pruned,
    policies: options.policies ?? [],
    holdout: options.holdout ?? 0.5,
    seed: options.seed ?? 0,
  });
  // What is deployed is the joint choice: its schedule, and its exit policy with the exit rates it gives.
  const chosen = sweep.pruned.find((p) => p.schedule === pruning.joint.schedule)!;
  const policy = parseExitPolicy(pruning.joint.policy);
  return store(options, {
    ...record,
    policy: pruning.joint.policy,
    exitRates: simulatePolicy(policy, chosen.runs).exitRates,
    tokenPruning: pruning.joint.schedule,
    pruning,
  });
}

async function store(options: CalibrateOptions, record: CalibrationRecord): Promise<CalibrateResult> {
  const out = resolve(options.out ?? defaultCalibrationPath(options.model));
  const plot = resolve(options.plot ?? out.replace(/\.json$/i, '') + '.png');
  writeCalibration(out, record);
  writeFileSync(plot, await plotCalibration(record));
  return { record, out, plot };
}
