import { BackendUnavailableError, type ClassificationOutcome, type ClassifierBackend, type ClassifyOptions } from '../api/backend.js';
import type { FrameOf } from '../../proto/frames.js';
import type { BertTokenizer } from '../tokenizer/index.js';
import { softmax } from '../reference/softmax.js';
import { RequestFailedError, type Dispatcher } from './dispatcher.js';

export interface ClusterBackendOptions {
  labels: string[];
  maxLength: number;
  /** Deadline of a whole request, retries included. */
  requestTimeoutMs: number;
  /** Pause before retrying on the same plan after a transient failure. */
  retryBackoffMs?: number;
}

/** The request's policy if it names one, else the deployment's (a bare threshold means max-prob). */
export function requestPolicy(options: ClassifyOptions, plan: { exit: { maxProbThreshold: number; policy: string } | null }): string {
  if (options.exitPolicy) return options.exitPolicy;
  const threshold = options.exitThreshold ?? (plan.exit?.policy ? undefined : plan.exit?.maxProbThreshold);
  if (threshold !== undefined) return threshold > 0 ? `max-prob=${threshold}` : 'none';
  return plan.exit?.policy || 'none';
}

/**
 * Serves classification requests with the deployed plan: tokenize, dispatch, turn logits into scores.
 * An encoder keeps no state between requests, so a request that fails on a broken plan is simply
 * run again on the next one, until its deadline.
 */
export class ClusterBackend implements ClassifierBackend {
  constructor(
    private readonly tokenizer: BertTokenizer,
    private readonly dispatcher: Dispatcher,
    private readonly options: ClusterBackendOptions,
  ) {}

  isReady(): boolean {
    return !!this.dispatcher.activePlan;
  }

  classify(texts: string[], options: ClassifyOptions): Promise<ClassificationOutcome[]> {
    return Promise.all(texts.map((t) => this.classifyOne(t, options)));
  }

  private async classifyOne(text: string, options: ClassifyOptions): Promise<ClassificationOutcome> {
    const started = performance.now();
    const deadline = started + this.options.requestTimeoutMs;
    const encoded = this.tokenizer.encode(text, this.options.maxLength);
    const ids = BigInt64Array.from(encoded.ids.map((i) => BigInt(i)));
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
      try {
        const result = await this.dispatcher.submit(ids, policy, Math.max(1, deadline - performance.now()));
        return { ...this.outcome(result.logits, result.exitLayer, result.early, result.trace, started, false), ...(result.halting && { halting: result.halting }) };
      } catch (err) {
        if (!(err instanceof RequestFailedError) || !err.retryable) throw err;
        lastError = err;
        interim = err.interim ?? interim;
        if (err.overloaded) break; // retrying would only add to the overload
        // The plan is broken: wait for the next one. Otherwise a transient error: brief pause.
        if (!this.dispatcher.servable) await this.dispatcher.waitForPlanAfter(active.version, deadline - performance.now());
        else await new Promise((r) => setTimeout(r, this.options.retryBackoffMs ?? 50));
      }
    }
    if (interim) return this.outcome(interim.logits, interim.exitLayer, true, [], started, true);
    throw new BackendUnavailableError(`could not classify within ${this.options.requestTimeoutMs} ms: ${lastError?.message ?? 'no plan became servable'}`, 1);
  }

  private outcome(logits: number[], exitLayer: number, early: boolean, trace: FrameOf<'result'>['trace'], started: number, degraded: boolean): ClassificationOutcome {
    const probs = softmax(logits);
    const scores = probs
      .map((score, i) => ({ label: this.options.labels[i] ?? `LABEL_${i}`, score }))
      .sort((a, b) => b.score - a.score);
    const agents: string[] = [];
    for (const hop of trace) agents.push(hop.agent, ...hop.members);
    return { scores, logits, exitLayer: exitLayer + 1, early, degraded, agents, totalMs: performance.now() - started, hops: trace };
  }
}
