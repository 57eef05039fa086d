import type { Checkpoint } from '../checkpoint/types.js';
import type { ClassifyResult, ReferenceRunner } from '../reference/index.js';
import { odeExitLayers, odeSchedule } from '@edgerelay/proto';
import type { TokenPruning } from '@edgerelay/device-agent';
import type { TextInput } from '../tokenizer/index.js';

/** One example seen through every exit head. */
export interface ExitRun {
  /** probs[k] is the distribution of the k-th exit head (exitLayers[k]); the last is the final classifier. */
  probs: number[][];
  label?: number;
  /** halting[k]: the trained DACT halting value of the k-th exit (every exit but the last), when the checkpoint has units. */
  halting?: number[];
  /**
   * ODE-step runs (K < L): the class the ordinary model's final exit predicts. Agreement and lost accuracy are
   * then judged against it, and every answer counts as early (it ran fewer applications than the full model).
   */
  reference?: number;
  /** With token pruning: tokens[l], the tokens layer l ran on (tokens[0] is the real length). */
  tokens?: number[];
}

/** One classified example as calibration keeps it. */
export function exitRunOf(result: ClassifyResult, label?: number): ExitRun {
  const run: ExitRun = { probs: result.exits.map((e) => e.probs) };
  if (label !== undefined) run.label = label;
  const units = result.exits.slice(0, -1);
  if (units.length > 0 && units.every((e) => e.halting !== undefined)) run.halting = units.map((e) => e.halting!);
  if (result.tokensPerLayer) run.tokens = result.tokensPerLayer;
  return run;
}

/** Whether the runs carry trained halting values (then \`dact\` uses them, and \`dact-entropy\` is worth comparing). */
export function hasTrainedHalting(runs: ExitRuns): boolean {
  return runs.rows.length > 0 && runs.rows.every((r) => r.halting !== undefined);
}

/** Every example's per-exit distributions: collected once, then any policy is simulated on them. */
export interface ExitRuns {
  numLayers: number;
  /** 0-based layers with a head, ascending; the last is the final layer. */
  exitLayers: number[];
  numLabels: number;
  rows: ExitRun[];
  /** ODE steps K the runs were taken with (parameter-shared models; absent: the ordinary model). */
  odeSteps?: number;
  /** appliedAt[k]: layer applications run when the k-th exit answers (default exitLayers[k] + 1). */
  appliedAt?: number[];
}

export interface CollectOptions {
  batchSize?: number;
  /** ODE steps K (default: the runner's own). */
  odeSteps?: number;
  /** Run under this token-pruning schedule (rows then carry the tokens each layer ran on). */
  pruning?: TokenPruning;
  onProgress?: (done: number, total: number) => void;
}

/** Runs every text once through the whole model, keeping every exit head's probabilities. */
export async function collectExitRuns(
  runner: ReferenceRunner,
  checkpoint: Checkpoint,
  texts: readonly TextInput[],
  labels?: number[],
  options: CollectOptions = {},
): Promise<ExitRuns> {
  const batchSize = options.batchSize ?? 32;
  const schedule = odeSchedule(checkpoint.config.numLayers, options.odeSteps ?? runner.odeSteps);
  const rows: ExitRun[] = [];
  for (let start = 0; start < texts.length; start += batchSize) {
    const results = await runner.classify(
      texts.slice(start, start + batchSize),
      batchSize,
      schedule.steps,
      options.pruning,
    );
    for (const r of results) {
      const i = rows.length;
      rows.push(exitRunOf(r, labels?.[i]));
    }
    options.onProgress?.(Math.min(start + batchSize, texts.length), texts.length);
  }
  const runs: ExitRuns = {
    numLayers: checkpoint.config.numLayers,
    exitLayers: [...checkpoint.exitLayers],
    numLabels: checkpoint.config.numLabels,
    rows,
  };
  if (schedule.steps === checkpoint.config.numLayers) return runs;
  const exitLayers = odeExitLayers(checkpoint.exitLayers, schedule);
  const appliedAt = exitLayers.map((l) => schedule.stepSlots.indexOf(l) + 1);
  return { ...runs, exitLayers, odeSteps: schedule.steps, appliedAt };
}

/** The rows at `indices`, same model description. */
export function selectRows(runs: ExitRuns, indices: number[]): ExitRuns {
  return { ...runs, rows: indices.map((i) => runs.rows[i]!) };
}
