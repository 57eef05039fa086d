import {
  BackendUnavailableError,
  InputTooLongError,
  type BackendHealth,
  type ClassificationOutcome,
  type ClassifierBackend,
  type ClassifyOptions,
} from '../api/backend.js';
import type { FrameOf } from '@edgerelay/proto';
import {
  checkScheduleFits,
  keepsEverything,
  parseTokenPruning,
  tokensAt,
  type TokenPruning,
} from '@edgerelay/device-agent';
import type { TextInput, TextTokenizer } from '../tokenizer/index.js';
import { softmax } from '../reference/softmax.js';
import { RequestFailedError, type Dispatcher } from './dispatcher.js';
import { checkedOdeSteps } from './ode-steps.js';

export interface ClusterBackendOptions {
  labels: string[];
  maxLength: number;
  /** Deadline of a whole request, retries included. */
  requestTimeoutMs: number;
  /** Pause before retrying on the same plan after a transient failure. */
  retryBackoffMs?: number;
  /** Agents connected now, for /healthz; the daemon's registry knows, the dispatcher does not. */
  agentsConnected?: () => number;
  /** The deployment's token pruning for requests that name none ("keep=…" or "none"; default none). */
  tokenPruning?: string;
  /** What a request's "calibrated" means: the schedule `calibrate --token-pruning` stored (default none). */
  calibratedTokenPruning?: string;
  /** The deployment's ODE steps (parameter-shared models), used when a request names none. */
  odeSteps?: number;
  /** Layer applications of a parameter-shared model (the bound of ode_steps); absent: the model's layers are not shared. */
  sharedLayers?: number;
  /** Told how every text ended (the coordinator's metrics). */
  observer?: RequestObserver;
}

/** Hears how each text ended: answered (maybe degraded), unavailable (no plan or overload in time) or failed. */
export interface RequestObserver {
  observeOutcome(outcome: ClassificationOutcome): void;
  observeFailure(outcome: 'unavailable' | 'failed', elapsedMs: number): void;
  observeRetry(): void;
}

/** Retry-After of a request shed for overload: in-flight requests finish in well under a second. */
const OVERLOAD_RETRY_AFTER_S = 1;

interface EncodedRequest {
  ids: BigInt64Array;
  /** Segments of a sentence pair's tokens (0 for the first text, 1 for the second). */
  types: BigInt64Array;
  truncatedTokens: number;
}

/** The request's policy if it names one, else the deployment's (a bare threshold means max-prob). */
export function requestPolicy(
  options: ClassifyOptions,
  plan: { exit: { maxProbThreshold: number; policy: string } | null },
): string {
  if (options.exitPolicy) return options.exitPolicy;
  const threshold = options.exitThreshold ?? (plan.exit?.policy ? undefined : plan.exit?.maxProbThreshold);
  if (threshold !== undefined) return threshold > 0 ? `max-prob=${threshold}` : 'none';
  return plan.exit?.policy || 'none';
}

/** Share of a text's real tokens the layers up to its exit ran on, under a pruning schedule (it is deterministic). */
export function keptShare(keep: readonly number[], exitLayer: number, realLength: number): number {
  let kept = 0;
  for (let l = 0; l <= exitLayer; l++) kept += tokensAt(keep, l, realLength);
  return kept / ((exitLayer + 1) * realLength);
}

/** The request's token-pruning schedule, else the deployment's; undefined when nothing is pruned. */
export function requestPruning(
  options: ClassifyOptions,
  deployment: { tokenPruning?: string; calibratedTokenPruning?: string },
  numLayers: number,
): TokenPruning | undefined {
  let spec = options.tokenPruning ?? deployment.tokenPruning ?? 'none';
  if (spec.trim() === 'calibrated') spec = deployment.calibratedTokenPruning ?? 'none';
  const pruning = parseTokenPruning(spec);
  if (pruning) checkScheduleFits(pruning, numLayers);
  return keepsEverything(pruning) ? undefined : pruning;
}

/**
 * Serves classification requests with the deployed plan: tokenize, dispatch, turn logits into scores.
 * An encoder keeps no state between requests, so a request that fails on a broken plan is simply
 * run again on the next one, until its deadline.
 */
export class ClusterBackend implements ClassifierBackend {
  constructor(
    private readonly tokenizer: TextTokenizer,
    private readonly dispatcher: Dispatcher,
    private readonly options: ClusterBackendOptions,
  ) {}

  isReady(): boolean {
    return !!this.dispatcher.activePlan;
  }

  health(): BackendHealth {
    return {
      planVersion: this.dispatcher.activePlan?.version ?? null,
      agentsConnected: this.options.agentsConnected?.() ?? 0,
    };
  }

  async classify(texts: readonly TextInput[], options: ClassifyOptions): Promise<ClassificationOutcome[]> {
    // Every text is encoded before any is sent, so a refused over-long text costs the cluster nothing.
    const encoded = texts.map((t, i) => this.encode(t, i, options.truncate ?? true));
    const odeSteps = checkedOdeSteps(options.odeSteps ?? this.options.odeSteps, this.options.sharedLayers);
    return Promise.all(encoded.map((e) => this.observed(e, { ...options, odeSteps })));
  }

  private async observed(request: EncodedRequest, options: ClassifyOptions): Promise<ClassificationOutcome> {
    const observer = this.options.observer;
    if (!observer) return this.classifyOne(request, options);
    const started = performance.now();
    try {
      const outcome = await this.classifyOne(request, options);
      observer.observeOutcome(outcome);
      return outcome;
    } catch (err) {
      observer.observeFailure(
        err instanceof BackendUnavailableError ? 'unavailable' : 'failed',
        performance.now() - started,
      );
      throw err;
    }
  }

  /**
   * Token ids (and a pair's segments) that fit the model's positions, cut as Hugging Face cuts them
   * (a pair longest-first), or InputTooLongError when cutting is not allowed.
   */
  private encode(input: TextInput, index: number, truncate: boolean): EncodedRequest {
    const max = this.options.maxLength;
    const { ids, typeIds, truncatedTokens } = this.tokenizer.encode(input, max);
    if (truncatedTokens > 0 && !truncate) throw new InputTooLongError(index, ids.length + truncatedTokens, max);
    return {
      ids: BigInt64Array.from(ids, (i) => BigInt(i)),
      types: BigInt64Array.from(typeIds, (t) => BigInt(t)),
      truncatedTokens,
    };
  }

  private async classifyOne(
    { ids, types, truncatedTokens }: EncodedRequest,
    options: ClassifyOptions,
  ): Promise<ClassificationOutcome> {
    const started = performance.now();
    const deadline = started + this.options.requestTimeoutMs;
    let lastError: RequestFailedError | undefined;
    let interim: FrameOf<'interim'> | undefined;
    while (performance.now() < deadline) {
      const plan = this.dispatcher.activePlan;
      if (!plan || !this.dispatcher.servable) {
        await this.dispatcher.waitForPlanAfter(plan?.version ?? 0, deadline - performance.now());
        if (!this.dispatcher.servable) continue;
      }
      const active = this.dispatcher.activePlan!;
      const policy = requestPolicy(options, active);
      // A malformed or misfitting schedule is the client's to fix (400), never retried.
      const pruning = requestPruning(options, this.options, active.numLayers);
      try {
        const remaining = Math.max(1, deadline - performance.now());
        const result = await this.dispatcher.submit(ids, policy, remaining, options.odeSteps, pruning, types);
        return {
          ...this.outcome(result.logits, result.exitLayer, result.early, result.trace, started, false),
          truncatedTokens,
          ...(result.halting && { halting: result.halting }),
          ...(pruning && { tokensKept: keptShare(pruning.keep, result.exitLayer, ids.length) }),
          ...(options.odeSteps !== undefined && { odeSteps: options.odeSteps }),
        };
      } catch (err) {
        if (!(err instanceof RequestFailedError) || !err.retryable) throw err;
        lastError = err;
        interim = err.interim ?? interim;
        if (err.overloaded) {
          // Retrying would only add to the overload; and the message must not blame the deadline.
          if (interim) break;
          throw new BackendUnavailableError(
            `the cluster is overloaded (${err.message}); retry after ${OVERLOAD_RETRY_AFTER_S} s`,
            OVERLOAD_RETRY_AFTER_S,
          );
        }
        this.options.observer?.observeRetry();
        // The plan is broken: wait for the next one. Otherwise a transient error: brief pause.
        if (!this.dispatcher.servable)
          await this.dispatcher.waitForPlanAfter(active.version, deadline - performance.now());
        else await new Promise((r) => setTimeout(r, this.options.retryBackoffMs ?? 50));
      }
    }
    if (interim)
      return { ...this.outcome(interim.logits, interim.exitLayer, true, [], started, true), truncatedTokens };
    throw new BackendUnavailableError(
      `could not classify within the ${this.options.requestTimeoutMs} ms request deadline (--request-timeout): ${lastError?.message ?? 'no plan became servable'}`,
      1,
    );
  }

  private outcome(
    logits: number[],
    exitLayer: number,
    early: boolean,
    trace: FrameOf<'result'>['trace'],
    started: number,
    degraded: boolean,
  ): ClassificationOutcome {
    const probs = softmax(logits);
    const scores = probs
      .map((score, i) => ({ label: this.options.labels[i] ?? `LABEL_${i}`, score }))
      .sort((a, b) => b.score - a.score);
    const agents: string[] = [];
    for (const hop of trace) agents.push(hop.agent, ...hop.members);
    return {
      scores,
      logits,
      exitLayer: exitLayer + 1,
      early,
      degraded,
      agents,
      totalMs: performance.now() - started,
      hops: trace,
    };
  }
}
