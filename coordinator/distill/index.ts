export { collectClsFeatures, type ClsFeatures, type FeatureOptions } from './features.js';
export {
  cloneHead,
  forwardHead,
  klGradient,
  klLoss,
  softmaxRows,
  type HeadGradients,
  type HeadParams,
} from './head.js';
export { trainHead, type TrainOptions, type TrainResult } from './train.js';
export { ModelWriteError, writeModelWithHeads, writeModelWithoutExits } from './write.js';
export { FitExitsError, fitExits, type FitExitsOptions, type FitExitsResult, type LayerFit } from './fit-exits.js';
export { adamTrain, type AdamOptions } from './train.js';
export {
  dactForwardRow,
  haltingGradient,
  haltingObjective,
  zeroHalting,
  type HaltingData,
  type HaltingObjective,
  type HaltingParams,
} from './halting.js';
export {
  DEFAULT_PONDER,
  FitHaltingError,
  fitHalting,
  type FitHaltingOptions,
  type FitHaltingResult,
} from './fit-halting.js';
