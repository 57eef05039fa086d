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
