/** Pruning. Attention heads: A* search (and Michel et al.'s greedy baseline) over head masks; docs/head-pruning.md. */
export { aStarPrune, type AStarOptions, type SearchResult, type Verdict } from './astar.js';
export { greedyPrune } from './greedy.js';
export { HeadMaskEvaluator, type EvaluatorOptions, type RowBatches } from './evaluator.js';
export { headImportance, rowLosses } from './importance.js';
export { MaskedModel } from './masked-model.js';
export {
  PruneHeadsOptionError,
  pruneHeads,
  type PruneFigures,
  type PruneHeadsOptions,
  type PruneHeadsResult,
  type PruneMethod,
} from './prune-heads.js';
export { batchRows, predictions, rowFigures, type RowFigures } from './rows.js';
export {
  SpeedupTargetError,
  encoderFlops,
  flopsOfTokens,
  layerFlops,
  parseSpeedupTarget,
  predictedSpeedup,
  scheduleForSpeedup,
  type InvertOptions,
  type LayerShape,
} from './flops.js';
