export type * from './types.js';
export * from './errors.js';
export { DTYPE_SIZES, FLOAT_DTYPES, floatToHalf, halfToFloat, type WritableDtype } from './dtype.js';
export {
  SafetensorsFile,
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
  type SafetensorsInt8Tensor,
  type SafetensorsTensorInfo,
  type SafetensorsWriteTensor,
  type WriteSafetensorsOptions,
} from './safetensors.js';
export {
  SUPPORTED_ARCHITECTURES,
  SUPPORTED_HIDDEN_ACTS,
  SUPPORTED_MODEL_TYPES,
  parseBertConfig,
  readBertConfig,
  type ParsedBertConfig,
} from './config.js';
export { mapBertWeights, type MappedWeights, type MapWeightsOptions } from './weights.js';
export { CONFIG_FILE, WEIGHTS_FILE, loadCheckpoint, type LoadedCheckpoint } from './load.js';
export { buildSyntheticVocab, writeRandomCheckpoint, type RandomCheckpointOptions } from './random.js';
export { writeRandomAlbertCheckpoint, type RandomAlbertOptions } from './random-albert.js';
export { ALBERT_ARCHITECTURES, albertGroupOf } from './albert-config.js';
export {
  HALTING_FILE,
  HALTING_FORMAT,
  HaltingUnitsError,
  haltingTensor,
  readHaltingUnits,
  writeHaltingUnits,
  type HaltingUnit,
} from './halting.js';
export {
  Int8WeightsError,
  QUANTIZATION_CONFIG,
  dequantizeRows,
  isLinearWeight,
  quantizeRows,
  readInt8Tensor,
  refuseInt8,
  refuseInt8Checkpoint,
  scaleTensorName,
} from './int8.js';
export {
  ConvertOverwriteError,
  DtypeRangeError,
  TORCH_DTYPES,
  convertCheckpoint,
  type ConvertDtype,
  type ConvertResult,
} from './convert.js';
export {
  checkAttentionWidth,
  headCounts,
  headSize,
  headsInLayer,
  keptHeads,
  parsePrunedHeads,
  prunedHeadsJson,
  type PrunedHeads,
} from './pruned-heads.js';
export { PruneOverwriteError, writePrunedCheckpoint, type HeadRef, type PrunedWriteResult } from './prune-write.js';
export { writeRandomFamilyCheckpoint, robertaSyntheticVocab, type RandomFamilyOptions } from './random-families.js';
export {
  FAMILIES,
  FAMILY_MODEL_TYPES,
  familyOf,
  familyOfConfig,
  maxSequenceLength,
  exitHeadPrefix,
  type Family,
  type FamilyName,
} from './families.js';
export { bareArchitecture, familyArchitectures } from './config.js';
