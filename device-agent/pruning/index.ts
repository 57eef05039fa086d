export {
  MAX_PRUNING_LAYERS,
  PROTECTED_TOKENS,
  TokenPruningSpecError,
  checkScheduleFits,
  formatKeep,
  formatTokenPruning,
  keepsEverything,
  parseTokenPruning,
  tokensAt,
  validateKeep,
  type TokenPruning,
} from './schedule.js';
export { pruneBatch, realRows, selectTokens, type PrunedBatch } from './select.js';
