import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FrameOf } from '@edgerelay/proto';
import type { ClassificationOutcome } from '../api/backend.js';

/** What the coordinator knows at scrape time; read lazily so a scrape costs nothing between scrapes. */
export interface MetricsSources {
  /** Requests handed to the data plane and not answered yet. */
  inFlight(): number;
  planVersion(): number | undefined;
  /** Every agent the coordinator knows of, with its state (see AGENT_STATES). */
  agents(): { id: string; state: AgentState }[];
  /** Links the agents measured, keyed "from|to". */
  links(): Iterable<[string, { bandwidthBytesPerSec: number; latencyMs: number }]>;
  /** Data-plane bytes the coordinator itself sent. */
  dataPlaneBytesSent(): number;
  /** Shard bytes streamed to each agent since this coordinator started (a warm agent cache adds nothing). */
  shardBytesSent(): Iterable<[string, number]>;
  /** Asks each agent of the active plan for its counters; agents that do not answer in time are left out. */
  agentStats(timeoutMs: number): Promise<FrameOf<'stats'>[]>;
}

/** serving: in the active plan and loaded; loading: in the plan, shards not loaded yet; standby: connected, no part
 * of the plan; down: in the active plan but gone. */
export const AGENT_STATES = ['serving', 'loading', 'standby', 'down'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

/** How a request ended, as the requests counter labels it. */
export type RequestOutcomeLabel = 'answered' | 'degraded' | 'unavailable' | 'failed';

const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A scrape must stay quick even with a silent agent: its counters are then simply absent. */
const AGENT_STATS_TIMEOUT_MS = 1000;

/**
 * The coordinator's Prometheus metrics, in a registry of its own (no process-global default registry:
 * two coordinators in one process, as in tests, keep separate figures).
 */
export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'outcome' | 'exit_layer' | 'early'>;
  private readonly requestSeconds: Histogram<'outcome'>;
  private readonly stageSeconds: Histogram<'stage'>;
  private readonly agentComputeSeconds: Counter<'agent'>;
  private readonly retries: Counter;
  private readonly rejected: Counter<'reason'>;
  private readonly httpResponses: Counter<'code'>;
  private readonly plansActivated: Counter<'kind'>;
  private readonly planFailures: Counter;
  private readonly tokensKept: Histogram;
  private readonly odeSteps: Counter<'steps'>;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'edgerelay_requests_total',
      help: 'Texts classified, by outcome, the 1-based layer whose classifier answered, and whether it was an early exit',
      labelNames: ['outcome', 'exit_layer', 'early'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'edgerelay_request_duration_seconds',
      help: 'Time from accepting a text to its answer, inside the coordinator',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.stageSeconds = new Histogram({
      name: 'edgerelay_stage_duration_seconds',
      help: 'Compute time of one pipeline stage for one text, as its host reported it (group waits included)',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.agentComputeSeconds = new Counter({
      name: 'edgerelay_agent_compute_seconds_total',
      help: 'Stage compute time reported by each stage host',
      labelNames: ['agent'],
      registers,
    });
    this.retries = new Counter({
      name: 'edgerelay_request_retries_total',
      help: 'Times a text was sent again after a transient failure or a broken plan',
      registers,
    });
    this.rejected = new Counter({
      name: 'edgerelay_requests_rejected_total',
      help: 'Classify requests answered 503: not_ready (no plan deployed yet) or unavailable (overloaded, or no plan could serve them before their deadline)',
      labelNames: ['reason'],
      registers,
    });
    this.httpResponses = new Counter({
      name: 'edgerelay_http_responses_total',
      help: 'Responses of the classify endpoint by HTTP status',
      labelNames: ['code'],
      registers,
    });
    this.plansActivated = new Counter({
      name: 'edgerelay_plans_activated_total',
      help: 'Plans that became active: full plans, and repairs around failed agents',
      labelNames: ['kind'],
      registers,
    });
    this.planFailures = new Counter({
      name: 'edgerelay_plan_failures_total',
      help: 'Times the active plan was marked unhealthy because one of its agents failed',
      registers,
    });
    this.tokensKept = new Histogram({
      name: 'edgerelay_tokens_kept_ratio',
      help: "Token pruning: share of each text's real tokens its layers ran on, on average over the layers it ran",
      buckets: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      registers,
    });
    this.odeSteps = new Counter({
      name: 'edgerelay_requests_by_ode_steps_total',
      help: 'Texts answered by a parameter-shared model, by the ODE steps they ran with',
      labelNames: ['steps'],
      registers,
    });
    this.defineScrapeTimeGauges(registers);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  observeOutcome(outcome: ClassificationOutcome): void {
    const label: RequestOutcomeLabel = outcome.degraded ? 'degraded' : 'answered';
    this.requests.inc({ outcome: label, exit_layer: String(outcome.exitLayer), early: String(outcome.early) });
    this.requestSeconds.observe({ outcome: label }, outcome.totalMs / 1000);
    if (outcome.tokensKept !== undefined) this.tokensKept.observe(outcome.tokensKept);
    if (outcome.odeSteps !== undefined) this.odeSteps.inc({ steps: String(outcome.odeSteps) });
    for (const hop of outcome.hops) {
      this.stageSeconds.observe({ stage: String(hop.stage) }, hop.computeMs / 1000);
      this.agentComputeSeconds.inc({ agent: hop.agent }, hop.computeMs / 1000);
    }
  }

  observeFailure(outcome: Exclude<RequestOutcomeLabel, 'answered' | 'degraded'>, elapsedMs: number): void {
    this.requests.inc({ outcome, exit_layer: 'none', early: 'false' });
    this.requestSeconds.observe({ outcome }, elapsedMs / 1000);
  }

  observeRetry(): void {
    this.retries.inc();
  }

  observeHttpResponse(status: number, rejectedReason?: 'not_ready' | 'unavailable'): void {
    this.httpResponses.inc({ code: String(status) });
    if (status === 503) this.rejected.inc({ reason: rejectedReason ?? 'unavailable' });
  }

  observePlanActivated(kind: 'full' | 'repair'): void {
    this.plansActivated.inc({ kind });
  }

  observePlanFailure(): void {
    this.planFailures.inc();
  }

  private defineScrapeTimeGauges(registers: Registry[]): void {
    const sources = this.sources;
    new Gauge({
      name: 'edgerelay_requests_in_flight',
      help: 'Texts sent into the cluster and not answered yet',
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new Gauge({
      name: 'edgerelay_plan_version',
      help: 'Version of the active plan (0 while none is deployed)',
      registers,
      collect() {
        this.set(sources.planVersion() ?? 0);
      },
    });
    new Gauge({
      name: 'edgerelay_agents',
      help: 'Agents by state: serving, loading (shards not loaded yet), standby (no part of the plan), down (in the plan, gone)',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = new Map<AgentState, number>(AGENT_STATES.map((s) => [s, 0]));
        for (const a of sources.agents()) counts.set(a.state, counts.get(a.state)! + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new Counter({
      name: 'edgerelay_coordinator_data_plane_sent_bytes_total',
      help: 'Data-plane bytes the coordinator sent to agents',
      registers,
      collect() {
        this.reset();
        this.inc(sources.dataPlaneBytesSent());
      },
    });
    new Counter({
      name: 'edgerelay_shard_sent_bytes_total',
      help: 'Compiled shard bytes streamed to each agent since the coordinator started (agents with a warm cache fetch nothing)',
      labelNames: ['agent'],
      registers,
      collect() {
        this.reset();
        for (const [agent, bytes] of sources.shardBytesSent()) this.inc({ agent }, bytes);
      },
    });
    const linkGauge = (
      name: string,
      help: string,
      value: (l: { bandwidthBytesPerSec: number; latencyMs: number }) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['from', 'to'],
        registers,
        collect() {
          this.reset();
          for (const [key, link] of sources.links()) {
            const [from = '', to = ''] = key.split('|');
            this.set({ from, to }, value(link));
          }
        },
      });
    linkGauge(
      'edgerelay_link_bandwidth_bytes_per_second',
      'Measured bandwidth of each agent-to-agent link',
      (l) => l.bandwidthBytesPerSec,
    );
    linkGauge(
      'edgerelay_link_latency_seconds',
      'Measured round-trip latency of each agent-to-agent link',
      (l) => l.latencyMs / 1000,
    );
    registerAgentCounters(registers, sources);
  }
}

/** Counters each agent keeps, read over the data plane at scrape time (one question per agent, in parallel). */
function registerAgentCounters(registers: Registry[], sources: MetricsSources): void {
  const fields = [
    ['stageRuns', 'edgerelay_agent_stage_runs_total', 'Stages this agent ran as host'],
    [
      'partialRuns',
      'edgerelay_agent_partial_runs_total',
      'Group shares (attention heads or FFN columns) this agent computed',
    ],
    ['layersRun', 'edgerelay_agent_layers_run_total', 'Encoder layers this agent ran'],
    ['earlyExits', 'edgerelay_agent_early_exits_total', 'Requests this agent answered from an early exit'],
    ['failures', 'edgerelay_agent_step_failures_total', 'Request steps that failed on this agent'],
    ['cacheCorruptions', 'edgerelay_agent_cache_corruptions_total', 'Cached shards found corrupt and downloaded again'],
    ['bytesSent', 'edgerelay_agent_data_plane_sent_bytes_total', 'Data-plane bytes this agent sent'],
  ] as const;
  let latest: Promise<FrameOf<'stats'>[]> | undefined;
  // One round of questions per scrape, shared by every metric below (collect() runs per metric).
  const statsOnce = (): Promise<FrameOf<'stats'>[]> => {
    latest ??= sources.agentStats(AGENT_STATS_TIMEOUT_MS).finally(() => setImmediate(() => (latest = undefined)));
    return latest;
  };
  for (const [field, name, help] of fields) {
    new Counter({
      name,
      help,
      labelNames: ['agent'],
      registers,
      async collect() {
        const stats = await statsOnce();
        this.reset();
        for (const s of stats) this.inc({ agent: s.agent }, s[field]);
      },
    });
  }
  new Gauge({
    name: 'edgerelay_agent_steps_in_flight',
    help: 'Request steps queued or running on this agent now (its queue depth)',
    labelNames: ['agent'],
    registers,
    async collect() {
      const stats = await statsOnce();
      this.reset();
      for (const s of stats) this.set({ agent: s.agent }, s.stepsInFlight);
    },
  });
}
