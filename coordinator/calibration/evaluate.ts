/** `edgerelay eval`'s figures: per-exit accuracy on a labelled TSV, and optionally one policy's run. */
import { readLabelledTsv } from '../datasets/index.js';
import { argmax } from '../reference/index.js';
import { policyFigures, resolvePolicy, type PolicyFigures } from './policy-eval.js';
import { collectWithModel } from './run.js';
import { evaluateTokenPruning, type TokenPruningFigures } from './pruning-eval.js';
import { formatExitPolicy } from '@edgerelay/device-agent';

export interface ExitEvaluation {
  /** 1-based layer the exit reads */
  layer: number;
  accuracy: number;
  agreement: number;
}

export interface Evaluation {
  examples: number;
  exits: ExitEvaluation[];
  /** With options.policy: the run under that early-exit policy. */
  policy?: PolicyFigures;
  /** With options.tokenPruning: the pruned run (under the policy too, when one is given). */
  tokenPruning?: TokenPruningFigures;
}

export interface EvaluateOptions {
  model: string;
  data: string;
  threads?: number;
  maxLength?: number;
  batchSize?: number;
  /** An exit policy ('max-prob=0.9', 'dact', ... or 'calibrated') to also report the run under. */
  policy?: string;
  /** Calibration file for policy 'calibrated' (default <model>/edgerelay-calibration.json). */
  calibration?: string;
  /** A token-pruning schedule ('keep=1,1,0.7,…', 'none' or 'calibrated') to also report the run under. */
  tokenPruning?: string;
  /** Called after each batch with (done, total); the CLI draws its progress bar with it. */
  onProgress?: (done: number, total: number) => void;
}

/** Runs every exit over a labelled TSV: per-exit accuracy and agreement with the final exit. */
export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
  const examples = readLabelledTsv(options.data);
  const policy = options.policy === undefined ? undefined : resolvePolicy(options.policy, options);
  const labels = examples.map((e) => e.label);
  const runs = await collectWithModel(
    options,
    examples.map((e) => e.sentence),
    labels,
  );
  // probs[k] of a row belongs to exitLayers[k] (ascending); with no rows there is no exit to report.
  const predictions = (runs.rows.length ? runs.exitLayers : []).map((layer, k) => ({
    layer,
    preds: runs.rows.map((r) => argmax(r.probs[k]!)),
  }));
  const final = predictions[predictions.length - 1]?.preds;
  const share = (hits: number) => hits / examples.length;
  const texts = examples.map((e) => e.sentence);
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
    exits: predictions.map(({ layer, preds }) => ({
      layer: layer + 1,
      accuracy: share(preds.filter((p, i) => p === labels[i]).length),
      agreement: share(preds.filter((p, i) => p === final![i]).length),
    })),
    ...(policy && { policy: policyFigures(policy, runs) }),
    ...(tokenPruning && { tokenPruning }),
  };
}
