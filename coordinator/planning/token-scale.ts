/**
 * What token pruning does to the planner's costs: layer l runs on S_l = tokensAt(keep, l, S) tokens,
 * so its compute and activations shrink, and the hidden state entering a stage that starts at layer l
 * carries S_l rows (the frames hold only the kept rows).
 */
import { tokensAt } from '@edgerelay/device-agent';
import type { CostOptions } from './planner-types.js';
import type { PlannerModel } from './cost-model.js';
import { layerFlops } from '../pruning/index.js';

/** Tokens each layer runs on (all seqLen without pruning). */
export function layerTokens(numLayers: number, options: Pick<CostOptions, 'seqLen' | 'tokenKeep'>): number[] {
  return Array.from({ length: numLayers }, (_, l) =>
    options.tokenKeep ? tokensAt(options.tokenKeep, l, options.seqLen) : options.seqLen,
  );
}

/** Per layer: its compute under pruning relative to unpruned (the FLOP model of docs/token-pruning.md). */
export function layerComputeScale(model: PlannerModel, options: Pick<CostOptions, 'seqLen' | 'tokenKeep'>): number[] {
  const full = layerFlops(model, options.seqLen);
  return layerTokens(model.numLayers, options).map((n) => layerFlops(model, n) / full);
}

/** Per layer: the tokens a stage starting there receives, relative to unpruned (its hop's bytes scale so). */
export function layerTokenScale(model: PlannerModel, options: Pick<CostOptions, 'seqLen' | 'tokenKeep'>): number[] {
  return layerTokens(model.numLayers, options).map((n) => n / options.seqLen);
}
