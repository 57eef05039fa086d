import { EdgeRelayError } from '@edgerelay/proto';

/**
 * Stable codes of StepRefusedError: why this agent could not run a step of a request (a stage, a
 * group share, a shard). Only the message crosses the wire, in an error frame; the code is for
 * callers in this process.
 */
export const STEP_REFUSED_CODES = {
  /** The request names a plan version this agent does not run (any more, or yet). */
  wrongPlanVersion: 'EDGERELAY_STEP_WRONG_PLAN_VERSION',
  /** The stage is not in the plan, or another agent hosts it. */
  stageNotHosted: 'EDGERELAY_STEP_STAGE_NOT_HOSTED',
  /** The stage-input frame lacks what its stage needs (token ids for stage 0, a hidden state after). */
  missingInput: 'EDGERELAY_STEP_MISSING_INPUT',
  /** A shard was run without one of its inputs. */
  shardInputMissing: 'EDGERELAY_STEP_SHARD_INPUT_MISSING',
  /** The plan gave this agent no session for a shard it was asked to run. */
  noShard: 'EDGERELAY_STEP_NO_SHARD',
  /** A scatter asked this agent for a share of a layer it holds none of. */
  noShare: 'EDGERELAY_STEP_NO_SHARE',
  /** The last stage ran without a final classifier deciding. */
  noFinalClassifier: 'EDGERELAY_STEP_NO_FINAL_CLASSIFIER',
  /** A group's members did not all send their partials in time. */
  groupTimeout: 'EDGERELAY_STEP_GROUP_TIMEOUT',
  /** A (request, layer, part) is already being gathered: the request id was sent twice. */
  duplicateRequestId: 'EDGERELAY_STEP_DUPLICATE_REQUEST_ID',
  /** A group member answered a share with an error frame (its message is this error's). */
  memberFailed: 'EDGERELAY_STEP_MEMBER_FAILED',
  /** The request asks for ODE steps the plan's model cannot take (not 1..L, or no shared layer). */
  badOdeSteps: 'EDGERELAY_STEP_BAD_ODE_STEPS',
  /** The agent is stopping: waits still open are failed. */
  agentStopping: 'EDGERELAY_STEP_AGENT_STOPPING',
  /** A sequence-parallel peer sent rows outside the range, or of another width, than the plan gives that phase. */
  badRows: 'EDGERELAY_STEP_BAD_ROWS',
  /** A sequence-parallel group's host ended the request (an early exit, or a failure elsewhere): members stop quietly. */
  groupCancelled: 'EDGERELAY_STEP_GROUP_CANCELLED',
} as const;
export type StepRefusedCode = (typeof STEP_REFUSED_CODES)[keyof typeof STEP_REFUSED_CODES];

/** This agent could not run a step of a request; `code` says why (STEP_REFUSED_CODES). */
export class StepRefusedError extends EdgeRelayError {
  constructor(
    override readonly code: StepRefusedCode,
    message: string,
  ) {
    super(message);
  }
}

/** Stable codes of PeerLinkError: why a frame could not go to another agent. */
export const PEER_LINK_CODES = {
  /** The current plan gives no data-plane address for the agent. */
  noAddress: 'EDGERELAY_PEER_NO_ADDRESS',
  /** No plan is loaded, so there is no key to prove to the peer. */
  noPlan: 'EDGERELAY_PEER_NO_PLAN',
  /** The link closed before the frame could be sent. */
  linkClosed: 'EDGERELAY_PEER_LINK_CLOSED',
} as const;
export type PeerLinkCode = (typeof PEER_LINK_CODES)[keyof typeof PEER_LINK_CODES];

/** A frame could not be sent to another agent over the data plane; `code` says why (PEER_LINK_CODES). */
export class PeerLinkError extends EdgeRelayError {
  constructor(
    override readonly code: PeerLinkCode,
    message: string,
  ) {
    super(message);
  }
}

/** An assignment from the coordinator cannot be understood (e.g. a shard kind this agent does not know). */
export class AssignmentError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_ASSIGNMENT';
}

/** A link probe got no echo from its peer in time. */
export class ProbeTimeoutError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_LINK_PROBE_TIMEOUT';
}
