export { DeviceAgent, type AgentOptions } from './agent.js';
export { ControlClient } from './control-client.js';
export { ShardCache, ShardAssembler } from './shard-cache.js';
export { profileDevice, measureGflops } from './profile.js';
export {
  ComputeStretch,
  type ReferenceSpeed,
  LinkShaper,
  parseEmulatedLink,
  EMULATED_LINKS,
  type EmulatedLink,
  type EmulationRecord,
} from './emulation.js';
export { LinkProber, type LinkMeasurement } from './link-probe.js';
export { type HaltingSignal } from './exits/dact.js';
export { argmaxOf, sigmoid, softmax } from './exits/math.js';
export {
  POLICY_FORMS,
  decideExit,
  formatExitPolicy,
  initialExitState,
  parseExitPolicy,
  type ExitPolicy,
} from './exits/policies.js';
export { MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_SEC } from './link-probe.js';
export { planAgents, shardKey, shardsForAgent } from './plan/roles.js';
export { specToMessage } from './plan/spec-codec.js';
export { ShardSession, int64Tensor, toWire, type HostTensor } from './runtime/index.js';
export { API_KEY, CLUSTER_TOKEN, flagExposureWarning, resolveSecret } from './security/secret-options.js';
export { TLS_FILES, readPem } from './security/tls-files.js';
export { PendingReplies } from './util/pending-replies.js';
export {
  AssignmentError,
  PEER_LINK_CODES,
  PeerLinkError,
  ProbeTimeoutError,
  STEP_REFUSED_CODES,
  StepRefusedError,
  type PeerLinkCode,
  type StepRefusedCode,
} from './errors.js';
export { ExitPolicyError } from './exits/policies.js';
export { ImplausibleLinkError } from './link-probe.js';
export { InvalidShardKeyError, ShardIntegrityError } from './shard-cache.js';
export { SecretFileError, SecretOptionConflictError } from './security/secret-options.js';
export { TlsFilesError } from './security/tls-files.js';
export { DuplicateWaitError } from './util/pending-replies.js';
export {
  MAX_PRUNING_LAYERS,
  TokenPruningSpecError,
  checkScheduleFits,
  formatKeep,
  formatTokenPruning,
  keepsEverything,
  parseTokenPruning,
  pruneBatch,
  realRows,
  selectTokens,
  tokensAt,
  validateKeep,
  type PrunedBatch,
  type TokenPruning,
} from './pruning/index.js';
export { HostSpeed } from './host-speed.js';
