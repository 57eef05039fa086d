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

/** A BERT of the given shape (FFN 4 × hidden, two labels), with an exit after every layer or only the final one. */
export function bertShape(layers: number, hidden: number, heads: number, exitEveryLayer = false): PlannerModel {
  return {
    modelId: `bert-${layers}L-${hidden}H`,
    numLayers: layers,
    numHeads: heads,
    intermediateSize: 4 * hidden,
    numLabels: 2,
    exitLayers: exitEveryLayer ? Array.from({ length: layers }, (_, i) => i) : [layers - 1],
    hiddenSize: hidden,
    vocabSize: 30522,
    maxPositions: 512,
  };
}
