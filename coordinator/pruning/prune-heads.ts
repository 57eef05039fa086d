/**
 * `edgerelay prune-heads`: find a large set of attention heads whose removal keeps accuracy on the tuning
 * rows within `maxDrop` of the unpruned model (A* search, or Michel et al.'s greedy order as a baseline),
 * judge it on held-apart rows, and optionally write the pruned Hugging Face checkpoint.
 */
import { performance } from 'node:perf_hooks';
import { EdgeRelayError } from '@edgerelay/proto';
import {
  keptHeads,
  loadCheckpoint,
  maxSequenceLength,
  refuseInt8Checkpoint,
  writePrunedCheckpoint,
  type HeadRef,
} from '../checkpoint/index.js';
import type { Checkpoint } from '../checkpoint/types.js';
import { splitRows } from '../calibration/split.js';
import { readTextExamples } from '../datasets/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { aStarPrune, type SearchResult, type Verdict } from './astar.js';
import { HeadMaskEvaluator } from './evaluator.js';
import { greedyPrune } from './greedy.js';
import { headImportance } from './importance.js';
import { MaskedModel } from './masked-model.js';
import { batchRows, predictions, rowFigures, type RowFigures } from './rows.js';
import type { TextInput } from '../tokenizer/index.js';

export class PruneHeadsOptionError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_PRUNE_HEADS_OPTION';
}

export type PruneMethod = 'astar' | 'greedy';

export interface PruneHeadsOptions {
  model: string;
  data: string;
  /** Largest allowed drop of tuning accuracy (agreement for unlabelled rows), as a fraction. Default 0.005. */
  maxDrop?: number;
  /** Share of rows held apart from the search, to judge the result on. Default 0.5. */
  holdout?: number;
  seed?: number;
  /** Most candidate evaluations the search may run. Default 500. */
  budget?: number;
  method?: PruneMethod;
  /** Write the pruned checkpoint here. */
  out?: string;
  threads?: number;
  maxLength?: number;
  batchSize?: number;
  onProgress?: (phase: 'importance' | 'search', done: number, total: number, bestRemoved: number) => void;
}

export interface PruneFigures {
  accuracy: number | null;
  agreement: number | null;
}

export interface PruneHeadsResult {
  /** [layer, original head index], by layer then head. */
  removed: HeadRef[];
  /** Removed heads over the heads the model had. */
  fraction: number;
  tuning: PruneFigures;
  heldApart: PruneFigures;
  /** Every forward evaluation: the importance pass and the search. */
  evaluations: number;
  seconds: number;
  // Not in --json (its shape is fixed by the issue); the text report prints them.
  method: PruneMethod;
  /** The unpruned model on the same rows. */
  baseline: { tuning: PruneFigures; heldApart: PruneFigures };
  searchEvaluations: number;
  /** Encoder layers run per evaluation on average (of numLayers): what caching the lower layers saves. */
  layersPerEvaluation: number;
  /** The search finished within its budget, so no set in its search space removes more heads. */
  optimal: boolean;
  totalHeads: number;
  numLayers: number;
  numHeads: number;
  tuningRows: number;
  heldApartRows: number;
  out?: string;
}

export async function pruneHeads(options: PruneHeadsOptions): Promise<PruneHeadsResult> {
  const started = performance.now();
  const maxDrop = options.maxDrop ?? 0.005;
  const holdout = options.holdout ?? 0.5;
  const budget = options.budget ?? 500;
  const method = options.method ?? 'astar';
  checkOptions(maxDrop, holdout, budget);

  const checkpoint = await loadCheckpoint(options.model);
  // Writing the pruned copy needs float weights: say so before the search, not after it.
  if (options.out) refuseInt8Checkpoint(checkpoint, 'pruning heads');
  const tokenizer = loadTokenizer(options.model);
  const examples = readTextExamples(options.data);
  const split = splitRows(examples.texts.length, holdout, options.seed ?? 0);
  if (split.tuning.length === 0)
    throw new PruneHeadsOptionError(`${options.data} leaves no tuning rows with --holdout ${holdout}; use more rows.`);
  const maxLength =
    options.maxLength ?? Math.min(maxSequenceLength(checkpoint.config), tokenizer.modelMaxLength ?? Infinity);
  const pick = (rows: number[]) => ({
    texts: rows.map((i) => examples.texts[i]!),
    labels: examples.labels && rows.map((i) => examples.labels![i]!),
  });
  const tuning = pick(split.tuning);
  const held = pick(split.heldOut);

  const model = await MaskedModel.create(checkpoint, options.threads);
  try {
    const total = model.totalHeads;
    const C = model.numLabels;
    const evaluator = new HeadMaskEvaluator(model, batchRows(tokenizer, tuning.texts, maxLength, options.batchSize));
    const ones = new Float32Array(total).fill(1);
    const baseLogits = await evaluator.logits(ones);
    const reference = predictions(baseLogits, C);
    const baseTuning = rowFigures(reference, reference, tuning.labels);
    // Accuracy is what the guarantee is about; without labels, agreement with the unpruned model stands in.
    const scoreOf = (f: RowFigures) => f.accuracy ?? f.agreement;
    const rootScore = scoreOf(baseTuning);

    const importance = await headImportance(
      evaluator,
      model.headCounts,
      C,
      tuning.labels ?? reference,
      baseLogits,
      (d, t) => options.onProgress?.('importance', d, t, 0),
    );
    const order = importance.map((_, h) => h).sort((a, b) => importance[a]! - importance[b]! || a - b);
    const importanceEvaluations = evaluator.evaluations - 1;

    const maskOf = (removed: number[]) => {
      const mask = ones.slice();
      for (const h of removed) mask[h] = 0;
      return mask;
    };
    const evaluate = async (removed: number[]): Promise<Verdict> => {
      const preds = predictions(await evaluator.logits(maskOf(removed)), C);
      const score = scoreOf(rowFigures(preds, reference, tuning.labels));
      // A small tolerance so a drop of exactly maxDrop (e.g. 1 row of 200 at 0.005) counts as allowed.
      return { ok: score >= rootScore - maxDrop - 1e-9, score };
    };
    const search = method === 'greedy' ? greedyPrune : aStarPrune;
    const result: SearchResult = await search({
      order,
      evaluate,
      rootScore,
      budget,
      onEvaluation: (done, best) => options.onProgress?.('search', done, budget, best),
    });

    const removedMask = maskOf(result.removed);
    const tuningFigures = rowFigures(predictions(await evaluator.logits(removedMask), C), reference, tuning.labels);
    const heldFigures = await heldApartFigures(model, tokenizer, held, maxLength, options.batchSize, removedMask);
    const removed = toHeadRefs(checkpoint, model.headCounts, result.removed);
    let out: string | undefined;
    if (options.out) out = writePrunedCheckpoint(options.model, options.out, removed).out;
    return {
      removed,
      fraction: total ? removed.length / total : 0,
      tuning: figures(tuningFigures),
      heldApart: heldFigures.pruned,
      evaluations: importanceEvaluations + result.evaluations,
      seconds: (performance.now() - started) / 1000,
      method,
      baseline: { tuning: figures(baseTuning), heldApart: heldFigures.base },
      searchEvaluations: result.evaluations,
      layersPerEvaluation: evaluator.evaluations ? evaluator.layerRuns / evaluator.evaluations : 0,
      optimal: result.optimal,
      totalHeads: total,
      numLayers: checkpoint.config.numLayers,
      numHeads: checkpoint.config.numHeads,
      tuningRows: tuning.texts.length,
      heldApartRows: held.texts.length,
      ...(out && { out }),
    };
  } finally {
    await model.release();
  }
}

function checkOptions(maxDrop: number, holdout: number, budget: number): void {
  if (!(maxDrop >= 0 && maxDrop < 1))
    throw new PruneHeadsOptionError(`--max-drop must be a fraction in [0, 1) (0.005 = half a point), got ${maxDrop}.`);
  if (!(holdout >= 0 && holdout < 1))
    throw new PruneHeadsOptionError(`--holdout must be a fraction in [0, 1), got ${holdout}.`);
  if (!Number.isInteger(budget) || budget < 0)
    throw new PruneHeadsOptionError(`--budget must be a whole number of evaluations, got ${budget}.`);
}

function figures(f: RowFigures): PruneFigures {
  return { accuracy: f.accuracy ?? null, agreement: f.agreement };
}

async function heldApartFigures(
  model: MaskedModel,
  tokenizer: ReturnType<typeof loadTokenizer>,
  rows: { texts: readonly TextInput[]; labels?: number[] },
  maxLength: number,
  batchSize: number | undefined,
  mask: Float32Array,
): Promise<{ base: PruneFigures; pruned: PruneFigures }> {
  if (rows.texts.length === 0) {
    const none = { accuracy: null, agreement: null };
    return { base: none, pruned: none };
  }
  const evaluator = new HeadMaskEvaluator(model, batchRows(tokenizer, rows.texts, maxLength, batchSize));
  const reference = predictions(await evaluator.logits(new Float32Array(mask.length).fill(1)), model.numLabels);
  const preds = predictions(await evaluator.logits(mask), model.numLabels);
  return {
    base: figures(rowFigures(reference, reference, rows.labels)),
    pruned: figures(rowFigures(preds, reference, rows.labels)),
  };
}

/** Flat head ids (layer by layer, over the heads each layer has now) → [layer, original head index]. */
function toHeadRefs(checkpoint: Checkpoint, headCounts: number[], ids: number[]): HeadRef[] {
  const refs: HeadRef[] = [];
  for (const id of ids) {
    let layer = 0;
    let local = id;
    while (local >= headCounts[layer]!) local -= headCounts[layer++]!;
    refs.push([layer, keptHeads(checkpoint.config, layer)[local]!]);
  }
  return refs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}
