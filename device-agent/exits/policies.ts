/**
 * Early-exit policies: after each exit head, decide from its class probabilities (and a small state
 * carried from the earlier heads) whether to answer now. Pure and dependency-free, because the device
 * agents run it between layers; the state is plain JSON so it can travel with the hidden state from
 * one device to the next and give the same decisions as a single process.
 *
 * Exact rules (k counts exit heads from 0; y_k is head k's probability vector over C classes):
 * - max-prob=τ   exit when max_c y_k[c] ≥ τ.
 * - entropy=τ    exit when H(y_k) / log C ≤ τ (FastBERT's normalised uncertainty, in [0, 1]).
 * - patience=t   PABEE: a counter starts at 0 on the first head, adds 1 when argmax y_k equals the
 *                previous head's argmax and resets to 0 otherwise; exit when it reaches t.
 * - dact[=ε]     DACT halting (dact.ts): the checkpoint's trained halting units when it has them
 *                (ctx.halting), else each head's normalised entropy as a stand-in.
 * - dact-entropy[=ε]  DACT with the entropy stand-in even when trained units exist (for comparison).
 * - none         never exit early.
 * Every policy exits at the last exit layer (the final classifier). argmax ties go to the lower index.
 */
import { EdgeRelayError } from '@edgerelay/proto';
import { dactStep, initialDactState, DACT_DEFAULT_SLACK, type HaltingSignal } from './dact.js';
import { argmaxOf, normalisedEntropy } from './math.js';

export { argmaxOf, normalisedEntropy };

export type ExitPolicy =
  | { kind: 'max-prob'; threshold: number }
  | { kind: 'entropy'; threshold: number }
  | { kind: 'patience'; patience: number }
  /** slack ε ∈ [0, 1] loosens the halting bound (0 = exit only when the accumulated answer provably cannot change). */
  /** standIn: use the entropy stand-in for h_n even when the checkpoint has trained halting units. */
  | { kind: 'dact'; slack: number; standIn?: true }
  | { kind: 'none' };

export type ExitPolicyKind = ExitPolicy['kind'];

/** JSON/msgpack-serialisable: it travels with the hidden state between devices. */
export type ExitState = Record<string, number | number[]>;

export interface ExitContext {
  /** 0-based layer whose head produced `probs`. */
  layer: number;
  /** All layers with heads, ascending; the last is the final classifier. */
  exitLayers: number[];
  /**
   * The trained halting unit's h_n ∈ [0, 1] for this head, when the checkpoint has units (the head
   * shard computes it); dact uses it in place of the entropy stand-in. Other policies ignore it.
   */
  halting?: number;
}

export interface ExitDecision {
  exit: boolean;
  state: ExitState;
  /**
   * The distribution to answer with when exiting: the head's own probabilities, except for dact,
   * which answers with its accumulated distribution.
   */
  probs: number[];
  /** dact only: which halting signal this decision used. */
  halting?: HaltingSignal;
}

/** A policy string or value the policies cannot use; the message gives the accepted forms. */
export class ExitPolicyError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_EXIT_POLICY';
}

export const POLICY_FORMS =
  'max-prob=P (0..1), entropy=T (0..1), patience=N (integer ≥ 1), dact or dact=S (slack 0..1), dact-entropy or dact-entropy=S, none';

export function initialExitState(policy: ExitPolicy): ExitState {
  switch (policy.kind) {
    case 'patience':
      // last = -1: no previous prediction yet, so the first head never counts as agreeing.
      return { count: 0, last: -1 };
    case 'dact':
      return initialDactState();
    default:
      return {};
  }
}

/** The decision after the head at ctx.layer; `state` is not modified (a new one is returned). */
export function decideExit(policy: ExitPolicy, state: ExitState, probs: number[], ctx: ExitContext): ExitDecision {
  const index = ctx.exitLayers.indexOf(ctx.layer);
  if (index < 0) {
    throw new ExitPolicyError(
      `Layer ${ctx.layer} has no exit head (exit layers: ${ctx.exitLayers.join(', ')}); call decideExit only after a head runs.`,
    );
  }
  if (probs.length === 0)
    throw new ExitPolicyError("decideExit got an empty probability vector; pass the softmax of the head's logits.");
  const isFinal = index === ctx.exitLayers.length - 1;
  const remaining = ctx.exitLayers.length - 1 - index;
  switch (policy.kind) {
    case 'max-prob':
      return { exit: isFinal || maxOf(probs) >= policy.threshold, state, probs };
    case 'entropy':
      return { exit: isFinal || normalisedEntropy(probs) <= policy.threshold, state, probs };
    case 'patience': {
      const pred = argmaxOf(probs);
      const count = pred === num(state, 'last') ? num(state, 'count') + 1 : 0;
      return { exit: isFinal || count >= policy.patience, state: { count, last: pred }, probs };
    }
    case 'dact': {
      // Validated here so a state from another policy fails loudly instead of restarting the accumulation.
      arr(state, 'acc');
      num(state, 'p');
      if (ctx.halting !== undefined && !(ctx.halting >= 0 && ctx.halting <= 1)) {
        throw new ExitPolicyError(
          `Halting value ${ctx.halting} at layer ${ctx.layer} is outside [0, 1]; the checkpoint's halting units are broken: re-run \`edgerelay fit-halting\`.`,
        );
      }
      const step = dactStep(state, probs, remaining, policy.slack, policy.standIn ? undefined : ctx.halting);
      return { exit: isFinal || step.halt, state: step.state, probs: step.accumulated, halting: step.signal };
    }
    case 'none':
      return { exit: isFinal, state, probs };
  }
}

/** Parses 'max-prob=0.9', 'entropy=0.2', 'patience=2', 'dact', 'dact=0.1', 'dact-entropy=0.1', 'none'. */
export function parseExitPolicy(spec: string): ExitPolicy {
  const text = spec.trim();
  const m = /^([a-z-]+)(?:=(.*))?$/.exec(text);
  const fail = (why: string): never => {
    throw new ExitPolicyError(`Invalid exit policy "${spec}": ${why}. Use one of: ${POLICY_FORMS}.`);
  };
  if (!m) return fail('expected NAME or NAME=VALUE');
  const [, name, raw] = m;
  const value = raw === undefined ? undefined : raw.trim() === '' ? NaN : Number(raw);
  const needValue = (): number =>
    value === undefined
      ? fail(`${name} needs a value`)
      : Number.isFinite(value)
        ? value
        : fail(`"${raw}" is not a number`);
  switch (name) {
    case 'max-prob':
    case 'entropy': {
      const threshold = needValue();
      if (threshold < 0 || threshold > 1) fail(`${name} takes a value between 0 and 1`);
      return { kind: name, threshold };
    }
    case 'patience': {
      const patience = needValue();
      if (!Number.isInteger(patience) || patience < 1) fail('patience takes an integer ≥ 1');
      return { kind: 'patience', patience };
    }
    case 'dact':
    case 'dact-entropy': {
      const slack = value === undefined ? DACT_DEFAULT_SLACK : needValue();
      if (slack < 0 || slack > 1) fail(`${name} takes a slack between 0 and 1`);
      return name === 'dact' ? { kind: 'dact', slack } : { kind: 'dact', slack, standIn: true };
    }
    case 'none':
      if (value !== undefined) fail('none takes no value');
      return { kind: 'none' };
    default:
      return fail(`unknown policy "${name}"`);
  }
}

/** The inverse of parseExitPolicy: parseExitPolicy(formatExitPolicy(p)) deep-equals p. */
export function formatExitPolicy(policy: ExitPolicy): string {
  switch (policy.kind) {
    case 'max-prob':
    case 'entropy':
      return `${policy.kind}=${policy.threshold}`;
    case 'patience':
      return `patience=${policy.patience}`;
    case 'dact': {
      const name = policy.standIn ? 'dact-entropy' : 'dact';
      return policy.slack === DACT_DEFAULT_SLACK ? name : `${name}=${policy.slack}`;
    }
    case 'none':
      return 'none';
  }
}

function maxOf(values: number[]): number {
  return values[argmaxOf(values)]!;
}

function num(state: ExitState, key: string): number {
  const v = state[key];
  if (typeof v !== 'number') throw missing(key);
  return v;
}

function arr(state: ExitState, key: string): number[] {
  const v = state[key];
  if (!Array.isArray(v)) throw missing(key);
  return v;
}

function missing(key: string): ExitPolicyError {
  return new ExitPolicyError(
    `Exit state lacks "${key}"; start each request with initialExitState(policy) for the same policy.`,
  );
}
