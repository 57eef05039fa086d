export {
  collectExitRuns,
  exitRunOf,
  hasTrainedHalting,
  selectRows,
  type ExitRun,
  type ExitRuns,
  type CollectOptions,
} from './collect.js';
export { simulatePolicy, type PolicyOutcome } from './simulate.js';
export { splitRows, type RowSplit } from './split.js';
export {
  parseTarget,
  formatTarget,
  meetsTarget,
  accuracyCost,
  CalibrationTargetError,
  type CalibrationTarget,
} from './target.js';
export {
  SWEPT_POLICIES,
  parsePolicyList,
  parameterGrid,
  sweep,
  UnknownPolicyError,
  type SweptPolicy,
  type SweepRow,
} from './sweep.js';
export {
  CALIBRATION_VERSION,
  calibrateRuns,
  finalAccuracy,
  type CalibrationRecord,
  type CalibrateRunsOptions,
  type OdeStepsChoice,
  type OutcomeSummary,
  type PolicyChoice,
  type TableRow,
} from './calibrate.js';
export {
  CALIBRATION_FILE,
  CalibrationFileError,
  defaultCalibrationPath,
  readCalibration,
  writeCalibration,
} from './store.js';
export { calibrationSpec, calibrationSvg, plotCalibration, POLICY_COLORS } from './plot.js';
export { formatTable, formatChoice, formatSummary } from './report.js';
export {
  calibrate,
  collectFromFile,
  collectWithModel,
  type CalibrateOptions,
  type CalibrateResult,
  type CollectFileOptions,
} from './run.js';
export { evaluate, type EvaluateOptions, type Evaluation, type ExitEvaluation } from './evaluate.js';
export { haltingSignalOf, policyFigures, type PolicyFigures } from './policy-eval.js';
export { calibrateOdeRuns, calibrateWithOdeSteps, collectOdeRuns, formatOdeSweep } from './ode-sweep.js';
export { simulatePruning, type PruningOutcome } from './pruning-outcome.js';
export {
  evaluateTokenPruning,
  resolveTokenPruning,
  type PruningEvalOptions,
  type TokenPruningFigures,
} from './pruning-eval.js';
export {
  calibratePruning,
  candidateSchedules,
  pruningCost,
  type PruningCalibration,
  type PruningChoice,
  type PruningRow,
  type PruningSweepInput,
} from './pruning-calibrate.js';
export { formatPruning } from './pruning-report.js';
