/** `eval --token-pruning`: the pruned model's figures next to the unpruned runs evaluate() already has. */
import { checkScheduleFits, formatTokenPruning, parseTokenPruning, type ExitPolicy } from '@edgerelay/device-agent';
import type { TokenPruning } from '@edgerelay/device-agent';
import { readPlannerModel } from '../planning/index.js';
import { parseSpeedupTarget, scheduleForSpeedup } from '../pruning/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import type { ExitRuns } from './collect.js';
import { simulatePruning } from './pruning-outcome.js';
import { collectWithModel } from './run.js';
import { defaultCalibrationPath, readCalibration } from './store.js';
import type { TextInput } from '../tokenizer/index.js';

export interface TokenPruningFigures {
  /** The schedule run, e.g. "keep=1,1,0.7,0.5,0.4,0.3" (for `calibrated`, the stored one). */
  spec: string;
  accuracy?: number;
  /** Agreement with the unpruned model's final answer. */
  agreement: number;
  /** Encoder FLOPs run / full encoder FLOPs; exits counted when a policy is given. */
  flopsRatio: number;
  meanTokensKept: number;
  meanTokens: number;
  /** The exit policy the figures were taken under, when one was given. */
  policy?: string;
}

/** Mean tokens per text ([CLS] and [SEP] included) as the model will see them. */
function meanLength(options: PruningEvalOptions, texts: readonly TextInput[]): number {
  const tokenizer = loadTokenizer(options.model);
  const max = options.maxLength ?? readPlannerModel(options.model).maxPositions;
  return texts.reduce((a, t) => a + tokenizer.encode(t, max).ids.length, 0) / Math.max(1, texts.length);
}

/** 'calibrated' reads the schedule stored by `calibrate --token-pruning`; anything else is a spec (or none). */
export function resolveTokenPruning(
  spec: string,
  where: { model: string; calibration?: string },
): TokenPruning | undefined {
  if (spec.trim() !== 'calibrated') return parseTokenPruning(spec);
  const record = readCalibration(where.calibration ?? defaultCalibrationPath(where.model));
  return parseTokenPruning(record.tokenPruning ?? 'none');
}

export interface PruningEvalOptions {
  model: string;
  threads?: number;
  maxLength?: number;
  batchSize?: number;
  calibration?: string;
  onProgress?: (done: number, total: number) => void;
}

/** Runs the texts again under the schedule and judges them against `unpruned` (same rows, same order). */
export async function evaluateTokenPruning(
  spec: string,
  options: PruningEvalOptions,
  texts: readonly TextInput[],
  labels: number[] | undefined,
  unpruned: ExitRuns,
  policy?: { policy: ExitPolicy; name: string },
): Promise<TokenPruningFigures> {
  const shape = readPlannerModel(options.model);
  const pruning = /^\s*speedup=/.test(spec)
    ? scheduleForSpeedup(shape, parseSpeedupTarget(spec), meanLength(options, texts))
    : (resolveTokenPruning(spec, options) ?? { keep: new Array<number>(shape.numLayers).fill(1) });
  checkScheduleFits(pruning, shape.numLayers);
  const runs = await collectWithModel({ ...options, pruning }, texts, labels);
  const o = simulatePruning(shape, runs, unpruned, policy?.policy);
  return {
    spec: formatTokenPruning(pruning),
    ...(o.accuracy !== undefined && { accuracy: o.accuracy }),
    agreement: o.agreement,
    flopsRatio: o.flopsRatio,
    meanTokensKept: o.meanTokensKept,
    meanTokens: o.meanTokens,
    ...(policy && { policy: policy.name }),
  };
}
