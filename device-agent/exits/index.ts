export {
  ExitPolicyError,
  POLICY_FORMS,
  argmaxOf,
  decideExit,
  formatExitPolicy,
  initialExitState,
  normalisedEntropy,
  parseExitPolicy,
  type ExitContext,
  type ExitDecision,
  type ExitPolicy,
  type ExitPolicyKind,
  type ExitState,
} from './policies.js';
export { DACT_DEFAULT_SLACK, dactBound, dactHalts, dactStep, type DactStep, type HaltingSignal } from './dact.js';
