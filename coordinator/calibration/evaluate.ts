/** `edgerelay eval`'s figures: per-exit accuracy on a labelled TSV, and optionally one policy's run. */
import { exampleInput, readLabelledTsv } from '../datasets/index.js';
import { argmax } from '../reference/index.js';
import { policyFigures, type PolicyFigures } from './policy-eval.js';
import { collectWithModel, type CollectFileOptions } from './run.js';
import { defaultCalibrationPath, readCalibration } from './store.js';
import { evaluateTokenPruning, type TokenPruningFigures } from './pruning-eval.js';
import { formatExitPolicy, parseExitPolicy } from '@edgerelay/device-agent';

export interface ExitEvaluation {
  /** 1-based layer the exit reads */
  layer: number;
  /** layer applications run up to this exit (= layer unless ODE steps skip some) */
  applications: number;
  accuracy: number;
  agreement: number;
}

export interface Evaluation {
  examples: number;
  /** ODE steps K and step size β = L/K the model ran with (K = L, β = 1 for the ordinary model) */
  odeSteps: number;
  stepSize: number;
  exits: ExitEvaluation[];
  /** With options.policy: the run under that early-exit policy. */
  policy?: PolicyFigures;
  /** With options.tokenPruning: the pruned run (under the policy too, when one is given). */
  tokenPruning?: TokenPruningFigures;
}

export interface EvaluateOptions extends CollectFileOptions {
  /** An exit policy ('max-prob=0.9', 'dact', ... or 'calibrated') to also report the run under. */
  policy?: string;
  /** Calibration file for policy 'calibrated' (default <model>/edgerelay-calibration.json). */
  calibration?: string;
  /** A token-pruning schedule ('keep=1,1,0.7,…', 'none' or 'calibrated') to also report the run under. */
  tokenPruning?: string;
}

/** Runs every exit over a labelled TSV: per-exit accuracy and agreement with the final exit. */
export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
  const examples = readLabelledTsv(options.data);
  // 'calibrated' reads the calibration file (default <model>/edgerelay-calibration.json) once: its policy and its K.
  const calibration =
    options.policy?.trim() === 'calibrated'
      ? readCalibration(options.calibration ?? defaultCalibrationPath(options.model))
      : undefined;
  const policy =
    calibration?.exitPolicy ?? (options.policy === undefined ? undefined : parseExitPolicy(options.policy));
  // A calibration made over ODE steps chose K too: `eval --policy calibrated` runs that K unless told otherwise.
  if (calibration?.odeSteps !== undefined && options.odeSteps === undefined)
    options = { ...options, odeSteps: calibration.odeSteps };
  const labels = examples.map((e) => e.label);
  const texts = examples.map(exampleInput);
  const runs = await collectWithModel(options, texts, labels);
  // probs[k] of a row belongs to exitLayers[k] (ascending); with no rows there is no exit to report.
  const predictions = (runs.rows.length ? runs.exitLayers : []).map((layer, k) => ({
    layer,
    applications: runs.appliedAt?.[k] ?? layer + 1,
    preds: runs.rows.map((r) => argmax(r.probs[k]!)),
  }));
  const final = predictions[predictions.length - 1]?.preds;
  const share = (hits: number) => hits / examples.length;
  const tokenPruning =
    options.tokenPruning === undefined
      ? undefined
      : await evaluateTokenPruning(
          options.tokenPruning,
          options,
          texts,
          labels,
          runs,
          policy && { policy, name: formatExitPolicy(policy) },
        );
  return {
    examples: examples.length,
    odeSteps: runs.odeSteps ?? runs.numLayers,
    stepSize: runs.numLayers / (runs.odeSteps ?? runs.numLayers),
    exits: predictions.map(({ layer, applications, preds }) => ({
      layer: layer + 1,
      applications,
      accuracy: share(preds.filter((p, i) => p === labels[i]).length),
      agreement: share(preds.filter((p, i) => p === final![i]).length),
    })),
    ...(policy && { policy: policyFigures(policy, runs) }),
    ...(tokenPruning && { tokenPruning }),
  };
}
