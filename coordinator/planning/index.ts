export { completePlan, type PlanModelInfo, type PlanSettings } from './plan-model.js';
export { validatePlan, InvalidPlanError } from './validate.js';
export { speedProportionalPlan, type PlannableAgent } from './speed-proportional.js';
export {
  readPlanFile,
  planFromFile,
  planFileAgents,
  planFileSchema,
  PlanFileError,
  type PlanFile,
} from './plan-file.js';
export {
  DEVICE_PROFILES,
  DEVICE_PROFILE_NAMES,
  LINK_PROFILES,
  linkFromMbps,
  linkProfile,
  type DeviceProfile,
  type DeviceProfileName,
  type Link,
  type LinkProfile,
} from './devices.js';
export {
  clusterFromAgents,
  checkCluster,
  ClusterError,
  type AgentFigures,
  type ClusterDevice,
  type ClusterModel,
} from './cluster-model.js';
export {
  clusterFileSchema,
  clusterFromFile,
  parseClusterFile,
  readClusterFile,
  ClusterFileError,
  type ClusterFile,
} from './cluster-file.js';
export * as costModel from './cost-model.js';
export { DEFAULT_COST_PARAMS, type CostParams, type PlannerModel } from './cost-model.js';
export { planCluster, searchOnlyPlan } from './halp-planner.js';
export { evenSplitPlan, bestSingleDevicePlan, type BaselineOptions } from './baselines.js';
export { predictPlan } from './predict.js';
export { plannerModelOf, readPlannerModel } from './model-shape.js';
export { appliedSlots, sharedLayerShape, weightSetSlots } from './shared-layers.js';
export {
  PlannerError,
  ModelDoesNotFitError,
  ExitRatesError,
  reachProbabilities,
  type Objective,
  type CostOptions,
  type PlannerOptions,
  type PlannerResult,
  type Prediction,
  type StagePrediction,
  type DevicePrediction,
} from './planner-types.js';
export { repairPlan } from './repair.js';
export { PlanCommandError, planFromFiles, type PlanFromFilesOptions, type PlanReport } from './plan-from-files.js';
export {
  baselineContenders,
  contender,
  pickContender,
  planForm,
  DEFAULT_SIMPLER_PLAN_MARGIN,
  PLAN_FORM_RANK,
  type Contender,
  type PlanForm,
} from './contenders.js';
