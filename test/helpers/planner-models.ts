import type { PlannerModel } from '../../coordinator/planning/index.js';

/** bert-base as the planner sees it: 12 layers of 768, 12 heads, FFN 3072, two labels, the final exit only. */
export const BERT_BASE: PlannerModel = {
  modelId: 'bert-base',
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 3072,
  numLabels: 2,
  exitLayers: [11],
  hiddenSize: 768,
  vocabSize: 30522,
  maxPositions: 512,
};
