export {
  COORDINATOR_ERROR_CODES,
  Coordinator,
  CoordinatorError,
  type CoordinatorErrorCode,
} from './daemon/coordinator.js';
export { type DeployProgress } from './deploy/deployer.js';
export { loadCoordinatorDataPlaneTls, loadServerCredentials } from './security/credentials.js';
export { generateClusterCerts } from './security/certs.js';
// What the `edgerelay` CLI assembled in sim/ reuses of the coordinator's command line.
export { runCommandLine } from './cli/run.js';
export { parseProbability, parseWireDtype } from './cli/coordinator.js';
export { parsePositiveInt } from './cli/number-options.js';
export { deployProgressBar } from './cli/progress.js';
export { EdgeRelayError } from '@edgerelay/proto';
export {
  DISPATCH_ERROR_CODES,
  DispatchError,
  RequestFailedError,
  type DispatchErrorCode,
} from './serving/dispatcher.js';
export { BackendUnavailableError, InputTooLongError } from './api/backend.js';
