export {
  ReferenceRunner,
  NoClassifierError,
  type ClassifyResult,
  type ExitResult,
  type ReferenceRunnerOptions,
} from './runner.js';
export { forwardFloat64, erf, type Float64Input, type Float64Options, type Float64Output } from './float64.js';
export { softmax, argmax } from './softmax.js';
export { openReferenceModel, type ModelOptions } from './open-model.js';
export { forwardPrunedFloat64, contextContributionFloat64, type Float64PrunedRun } from './float64-pruning.js';
export { forwardFamilyFloat64, robertaPositionIds, type FamilyFloat64Result } from './float64-families.js';
