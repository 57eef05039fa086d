import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type pino from 'pino';
import type { Frame, FrameOf } from '@edgerelay/proto';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import { dial, type DataPlaneCounters, type DataPlaneTls, type Link } from '@edgerelay/proto';
import { maxFrameBytesFor } from '@edgerelay/proto';
import { toWire, int64Tensor } from '@edgerelay/device-agent';
import { PendingReplies } from '@edgerelay/device-agent';
import { EdgeRelayError } from '@edgerelay/proto';
import { initialExitState, parseExitPolicy, type TokenPruning } from '@edgerelay/device-agent';

export class RequestFailedError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_REQUEST_FAILED';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The last exit head that answered below threshold, if any: an early answer to fall back on. */
    readonly interim?: FrameOf<'interim'>,
    /** Refused because too many requests are in flight: retrying at once would add to the load. */
    readonly overloaded = false,
  ) {
    super(message);
  }
}

/** Stable codes of DispatchError: why the dispatcher could not reach or hear from an agent. */
export const DISPATCH_ERROR_CODES = {
  /** A plan names a stage host without a data-plane address. */
  noAddress: 'EDGERELAY_DISPATCH_NO_ADDRESS',
  /** No plan is active, so there is no key to prove to an agent. */
  noPlan: 'EDGERELAY_DISPATCH_NO_PLAN',
  /** An agent did not answer a question (stats, link probe) in time. */
  agentTimeout: 'EDGERELAY_DISPATCH_AGENT_TIMEOUT',
  /** The dispatcher was closed (the coordinator is stopping) while a question to an agent was pending. */
  closed: 'EDGERELAY_DISPATCH_CLOSED',
} as const;
export type DispatchErrorCode = (typeof DISPATCH_ERROR_CODES)[keyof typeof DISPATCH_ERROR_CODES];

/** The dispatcher could not reach or hear from an agent; `code` says why (DISPATCH_ERROR_CODES). */
export class DispatchError extends EdgeRelayError {
  constructor(
    override readonly code: DispatchErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  planVersion: number;
  resolve: (frame: FrameOf<'result'>) => void;
  reject: (err: RequestFailedError) => void;
  timer: NodeJS.Timeout;
  interim?: FrameOf<'interim'>;
}

/** How long the links of a replaced plan stay open, so its in-flight requests can still answer. */
const PLAN_GRACE_MS = 5000;

export interface DispatcherLimits {
  /** Requests in flight at once; more are refused (the API answers 503) instead of queueing without bound. */
  maxInFlight: number;
}

/**
 * The coordinator's data-plane side: links to every stage host (any of them may answer), sends a
 * request's token ids to stage 0 and matches answers to requests by id. When an agent of the active
 * plan fails, the plan is marked unhealthy and its requests are rejected as retryable, so callers
 * retry them on the next plan.
 */
export class Dispatcher extends EventEmitter {
  private links = new Map<string, Link>();
  // Requests keep their own map, not PendingReplies: each carries its plan version and latest interim,
  // is failed by plan, and its failure is rewritten to carry that interim when it settles.
  private readonly pending = new Map<string, Pending>();
  /** Answers to one-off questions to an agent (stats, link reports), by request id. */
  private readonly answers = new PendingReplies<string, Frame>();
  /** Bytes sent on every data-plane link this dispatcher opened. */
  private readonly counters: DataPlaneCounters = { bytesSent: 0 };
  private plan: Plan | undefined;
  private planKey: Uint8Array | undefined;
  private healthy = false;

  constructor(
    private readonly selfId: string,
    private readonly logger: pino.Logger,
    private readonly limits: DispatcherLimits = { maxInFlight: 512 },
    /** Dial the agents over wss with mutual TLS; plain ws when undefined. */
    private readonly tls?: DataPlaneTls,
  ) {
    super();
    // Every request waiting for a new plan listens for it; their number is bounded by maxInFlight.
    this.setMaxListeners(0);
  }

  /** Dials the hosts of a new plan, then switches to it; requests of older plans are retried by their callers. */
  async activate(plan: Plan, dataPlaneKey: Uint8Array): Promise<void> {
    const key = { planVersion: plan.version, key: dataPlaneKey, maxFrameBytes: maxFrameBytesFor(plan.hiddenSize) };
    const addresses = new Map(plan.endpoints.map((e) => [e.agentId, e.dataAddress]));
    const hosts = [...new Set(plan.stages.map((s) => s.host))];
    const links = new Map<string, Link>();
    try {
      for (const host of hosts) {
        const address = addresses.get(host);
        if (!address)
          throw new DispatchError(
            DISPATCH_ERROR_CODES.noAddress,
            `plan ${plan.version} has no address for stage host "${host}"`,
          );
        const link = await dial(
          address,
          { role: 'coordinator', from: this.selfId },
          key,
          (f) => this.onFrame(f),
          (err) => this.logger.warn({ err: err.message }, 'malformed frame from an agent'),
          { counters: this.counters, ...this.tlsFor(host) },
        );
        link.socket.on('close', () => this.onLinkClosed(plan.version, host));
        links.set(host, link);
      }
    } catch (err) {
      for (const l of links.values()) l.close();
      throw err;
    }
    const old = this.links;
    const oldVersion = this.plan?.version;
    const oldHealthy = this.healthy;
    this.links = links;
    this.plan = plan;
    this.planKey = dataPlaneKey;
    this.healthy = true;
    // Requests of a healthy old plan finish on it (agents keep the previous plan a while); those of a
    // broken one were already handed back for retry.
    if (oldVersion !== undefined && !oldHealthy)
      this.rejectPlan(oldVersion, `plan ${oldVersion} was replaced by plan ${plan.version}`);
    setTimeout(() => old.forEach((l) => l.close()), PLAN_GRACE_MS).unref();
    this.emit('plan', plan);
  }

  get activePlan(): Plan | undefined {
    return this.plan;
  }

  /** The active plan's data-plane key (tools and tests that speak the data plane need it). */
  get activeKey(): { planVersion: number; key: Uint8Array } | undefined {
    return this.plan && this.planKey ? { planVersion: this.plan.version, key: this.planKey } : undefined;
  }

  /** A plan is servable when it is active and none of its agents is known to have failed. */
  get servable(): boolean {
    return !!this.plan && this.healthy;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Data-plane bytes the coordinator sent to agents since start (benchmarks count traffic with it). */
  get bytesSent(): number {
    return this.counters.bytesSent;
  }

  /** An agent of `version` failed: stop sending to that plan and hand its requests back for retry. */
  invalidate(version: number, reason: string): void {
    if (this.plan?.version !== version || !this.healthy) return;
    this.healthy = false;
    this.logger.warn({ plan: version, reason }, 'plan unhealthy; in-flight requests will be retried on the next plan');
    this.rejectPlan(version, reason);
    this.emit('unhealthy', version);
  }

  /** Resolves when a plan newer than `version` is active and healthy, or after `timeoutMs`. */
  waitForPlanAfter(version: number, timeoutMs: number): Promise<void> {
    if (this.plan && this.plan.version > version && this.healthy) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.off('plan', onPlan);
        resolve();
      };
      const onPlan = (p: Plan) => p.version > version && done();
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.on('plan', onPlan);
    });
  }

  /** Runs one tokenized text through the active plan. */
  submit(
    inputIds: BigInt64Array,
    exitPolicy: string,
    timeoutMs: number,
    odeSteps?: number,
    tokenPruning?: TokenPruning,
    tokenTypeIds?: BigInt64Array,
  ): Promise<FrameOf<'result'>> {
    let exitState: Record<string, number | number[]>;
    try {
      exitState = initialExitState(parseExitPolicy(exitPolicy));
    } catch (err) {
      return Promise.reject(new RequestFailedError((err as Error).message, false));
    }
    const plan = this.plan;
    if (!plan || !this.healthy) return Promise.reject(new RequestFailedError('no healthy plan is active', true));
    if (this.pending.size >= this.limits.maxInFlight) {
      return Promise.reject(
        new RequestFailedError(`overloaded: ${this.pending.size} requests in flight`, true, undefined, true),
      );
    }
    const link = this.links.get(plan.stages[0]!.host);
    if (!link?.open)
      return Promise.reject(new RequestFailedError(`stage 0 host "${plan.stages[0]!.host}" is not reachable`, true));
    const requestId = randomUUID();
    const dims = [1, inputIds.length];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(requestId, new RequestFailedError(`no answer within ${timeoutMs} ms`, true)),
        timeoutMs,
      );
      this.pending.set(requestId, { planVersion: plan.version, resolve, reject, timer });
      const sent = link.send({
        type: 'stage-input',
        requestId,
        planVersion: plan.version,
        stage: 0,
        inputIds: toWire(int64Tensor(inputIds, dims)),
        // Only sentence pairs carry segments; a single text's are all 0, which stage 0 assumes when absent.
        ...(tokenTypeIds?.some((t) => t !== 0n) && { tokenTypeIds: toWire(int64Tensor(tokenTypeIds, dims)) }),
        attentionMask: toWire(int64Tensor(new BigInt64Array(inputIds.length).fill(1n), dims)),
        exitPolicy,
        exitState,
        trace: [],
        ...(odeSteps !== undefined && { odeSteps }),
        ...(tokenPruning && { tokenPruning: { keep: tokenPruning.keep, length: inputIds.length } }),
      });
      if (!sent) this.settle(requestId, new RequestFailedError('stage 0 link closed', true));
    });
  }

  /** Asks one agent for its counters over the data plane. */
  agentStats(agentId: string, address: string, timeoutMs = 5000): Promise<FrameOf<'stats'>> {
    return this.ask(agentId, address, (requestId) => ({ type: 'stats-request', requestId }), timeoutMs) as Promise<
      FrameOf<'stats'>
    >;
  }

  /** Asks one agent to measure its links to `peers`; resolves with its report. */
  measureLinks(agentId: string, address: string, peers: string[], timeoutMs = 30_000): Promise<FrameOf<'link-report'>> {
    return this.ask(
      agentId,
      address,
      (requestId) => ({ type: 'probe-request', requestId, peers }),
      timeoutMs,
    ) as Promise<FrameOf<'link-report'>>;
  }

  private tlsFor(agentId: string): { tls?: { credentials: DataPlaneTls; peer: string } } {
    return this.tls ? { tls: { credentials: this.tls, peer: agentId } } : {};
  }

  /** One question to one agent over the data plane, answered by a frame with the same request id. */
  private async ask(
    agentId: string,
    address: string,
    question: (requestId: string) => Frame,
    timeoutMs: number,
  ): Promise<Frame> {
    const requestId = randomUUID();
    const own = this.links.get(agentId);
    if (!own?.open && (!this.plan || !this.planKey))
      throw new DispatchError(DISPATCH_ERROR_CODES.noPlan, 'no active plan to authenticate with');
    const link = own?.open
      ? own
      : await dial(
          address,
          { role: 'coordinator', from: this.selfId },
          {
            planVersion: this.plan!.version,
            key: this.planKey!,
            maxFrameBytes: maxFrameBytesFor(this.plan!.hiddenSize),
          },
          (f) => this.onFrame(f),
          () => undefined,
          { counters: this.counters, ...this.tlsFor(agentId) },
        );
    const answer = this.answers.wait(
      requestId,
      timeoutMs,
      () =>
        new DispatchError(DISPATCH_ERROR_CODES.agentTimeout, `agent ${agentId} did not answer within ${timeoutMs} ms`),
    );
    link.send(question(requestId));
    const frame = await answer;
    if (link !== own) link.close();
    return frame;
  }

  private onLinkClosed(version: number, host: string): void {
    if (this.plan?.version === version && this.links.get(host))
      this.invalidate(version, `lost the data-plane link to ${host}`);
  }

  private rejectPlan(version: number, reason: string): void {
    for (const [id, p] of this.pending) {
      if (p.planVersion === version) this.settle(id, new RequestFailedError(reason, true, p.interim));
    }
  }

  private settle(requestId: string, outcome: FrameOf<'result'> | RequestFailedError): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(requestId);
    if (outcome instanceof RequestFailedError) {
      p.reject(
        outcome.interim || !p.interim ? outcome : new RequestFailedError(outcome.message, outcome.retryable, p.interim),
      );
    } else {
      p.resolve(outcome);
    }
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case 'stats':
      case 'link-report':
        this.answers.deliver(frame.requestId, frame);
        return;
      case 'interim': {
        const p = this.pending.get(frame.requestId);
        if (p && p.planVersion === frame.planVersion) p.interim = frame;
        return;
      }
      case 'result':
        // A result must come from the plan the request was sent on; anything else is stale or forged.
        if (this.pending.get(frame.requestId)?.planVersion === frame.planVersion) this.settle(frame.requestId, frame);
        return;
      case 'error':
        if (this.pending.get(frame.requestId)?.planVersion === frame.planVersion) {
          this.settle(frame.requestId, new RequestFailedError(frame.message, frame.retryable));
        }
        return;
      default:
        return;
    }
  }

  close(): void {
    for (const id of [...this.pending.keys()])
      this.settle(id, new RequestFailedError('coordinator shutting down', true));
    // A pending question (a link measurement, stats) ends now, not when its timeout would have fired
    // (its timer would keep a stopped coordinator's process alive that long).
    this.answers.failAll(
      new DispatchError(DISPATCH_ERROR_CODES.closed, 'the coordinator is stopping: questions to agents were dropped'),
    );
    for (const link of this.links.values()) link.close();
    this.links.clear();
    this.plan = undefined;
  }
}
