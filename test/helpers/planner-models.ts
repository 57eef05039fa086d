import type { PlannerModel } from '../../coordinator/planning/index.js';
import type { Plan__Output as Plan } from '../../proto/control.js';

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

/**
 * A one-stage plan of BERT_BASE's 12 layers, filled in as a received plan would be, for validatePlan: a
 * position-parallel stage hosted by `host` unless `stage` says otherwise.
 */
export function bertBaseStagePlan(host: string, stage: Partial<Plan['stages'][number]>): Plan {
  return {
    version: 1,
    modelId: 'bert-base',
    stages: [{ layerStart: 0, layerEnd: 12, host, form: 'position-parallel', members: [], ...stage }],
    endpoints: [],
    numLabels: 2,
    exitLayers: [11],
    numLayers: 12,
    wireDtype: 'float32',
  } as unknown as Plan;
}
