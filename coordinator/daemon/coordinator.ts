import { randomBytes } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import { startHttpApi, type HttpApi } from '../api/index.js';
import { loadCheckpoint, maxSequenceLength } from '../checkpoint/index.js';
import type { Checkpoint } from '../checkpoint/types.js';
import { startCoordinatorControl } from './control-plane.js';
import { AgentRegistry } from '../cluster/registry.js';
import { deployPlan } from '../deploy/deployer.js';
import type { CoordinatorOptions } from './options.js';
import { ShardStore } from '../deploy/shard-store.js';
import {
  linkProfile,
  completePlan,
  readPlanFile,
  validatePlan,
  type PlanFile,
  type PlanModelInfo,
} from '../planning/index.js';
import { ClusterBackend } from '../serving/cluster-backend.js';
import { deploymentTokenPruning } from './token-pruning.js';
import { parseTokenPruning } from '@edgerelay/device-agent';
import { surveyLinks } from './link-survey.js';
import { createOperatorView, type OperatorView } from './operator-view.js';
import { choosePlan } from './plan-choice.js';
import { DISPATCH_ERROR_CODES, Dispatcher } from '../serving/dispatcher.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { settleExitPolicy } from './exit-settings.js';
import { EdgeRelayError } from '@edgerelay/proto';
import { checkDeploymentOdeSteps } from '../serving/ode-steps.js';
import { plannerModelOf } from '../planning/index.js';

/** Stable codes of CoordinatorError. */
export const COORDINATOR_ERROR_CODES = {
  /** waitForPlan ran out of time before any plan became active. */
  noPlanActive: 'EDGERELAY_COORDINATOR_NO_PLAN_ACTIVE',
  /** No registered agent has that id. */
  unknownAgent: 'EDGERELAY_COORDINATOR_UNKNOWN_AGENT',
} as const;
export type CoordinatorErrorCode = (typeof COORDINATOR_ERROR_CODES)[keyof typeof COORDINATOR_ERROR_CODES];

/** A coordinator daemon call could not be served; `code` says why (COORDINATOR_ERROR_CODES). */
export class CoordinatorError extends EdgeRelayError {
  constructor(
    override readonly code: CoordinatorErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The coordinator daemon: loads the checkpoint, accepts agents over gRPC, plans and deploys when
 * membership changes, and serves the HTTP API through the active plan.
 */
export class Coordinator {
  readonly registry = new AgentRegistry();
  private checkpoint!: Checkpoint;
  private store!: ShardStore;
  private dispatcher!: Dispatcher;
  /** Prometheus metrics (/metrics), recent answers and the cluster view (/v1/cluster); created in start(). */
  operator!: OperatorView;
  private grpcServer: grpc.Server | undefined;
  private api: HttpApi | undefined;
  private planFile: PlanFile | undefined;
  private version = 0;
  private replanTimer: NodeJS.Timeout | undefined;
  private replanning: Promise<void> = Promise.resolve();
  private readonly readyWaiters: ((plan: Plan) => void)[] = [];
  private evictTimer: NodeJS.Timeout | undefined;
  /** Membership changes since the active plan was made: failures alone are repaired, joins replanned. */
  private departed = new Set<string>();
  private joinedSincePlan = false;
  grpcPort = 0;
  /** Share of requests answered after each layer, from calibration (the planner uses it). */
  exitRates: number[] | undefined;
  private tokenKeep: number[] | undefined;
  /** Links the agents measured between each other over the data plane, by "from|to". */
  readonly measuredLinks = new Map<string, { bandwidthBytesPerSec: number; latencyMs: number }>();
  private measuredFor = '';
  private linkMeasurement: Promise<void> = Promise.resolve();

  /** Resolves when the latest link measurement has finished (benchmarks wait, so probes do not skew timings). */
  linksMeasured(): Promise<void> {
    return this.linkMeasurement;
  }

  /** A plan given through applyPlan stays until membership changes: measurements do not replace it. */
  private pinned = false;
  /** Shard bytes streamed to each agent since start: a restarted agent with a warm cache adds nothing. */
  readonly shardBytesSent = new Map<string, number>();

  constructor(private readonly options: CoordinatorOptions) {}

  async start(): Promise<void> {
    const { logger } = this.options;
    this.checkpoint = await loadCheckpoint(this.options.modelDir);
    const calibration = settleExitPolicy(this.options, logger);
    // After the calibration may have chosen K: a bad K fails at start, not per request.
    checkDeploymentOdeSteps(this.checkpoint, this.options.settings.odeSteps);
    if (calibration) this.exitRates = calibration.exitRates;
    const tokenizer = loadTokenizer(this.options.modelDir);
    this.planFile = this.options.planFile ? readPlanFile(this.options.planFile) : undefined;
    this.store = new ShardStore(this.checkpoint);
    this.dispatcher = new Dispatcher(
      'coordinator',
      logger,
      { maxInFlight: this.options.maxInFlight ?? 512 },
      this.options.dataPlaneTls,
    );
    const control = await startCoordinatorControl(this.options, this.registry, this.store, this.shardBytesSent);
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = control;
    this.grpcServer = control.server;
    this.grpcPort = control.port;
    const pruning = deploymentTokenPruning(this.options, this.checkpoint.config.numLayers);
    // The planner costs each stage at the tokens the deployment's default schedule leaves it.
    this.tokenKeep = parseTokenPruning(pruning.tokenPruning ?? 'none')?.keep;
    const { config } = this.checkpoint;
    this.operator = createOperatorView({
      registry: this.registry,
      dispatcher: this.dispatcher,
      measuredLinks: this.measuredLinks,
      shardBytesSent: this.shardBytesSent,
      activePlan: () => this.activePlan,
      calibration,
      modelId: this.options.modelDir,
      checkpoint: this.checkpoint,
    });
    const backend = new ClusterBackend(tokenizer, this.dispatcher, {
      observer: this.operator.observer,
      labels: config.labels,
      maxLength:
        this.options.maxLength ?? Math.min(maxSequenceLength(config), 512, tokenizer.modelMaxLength ?? Infinity),
      requestTimeoutMs: this.options.requestTimeoutMs,
      agentsConnected: () => this.registry.connected().length,
      ...(this.options.settings.odeSteps !== undefined && { odeSteps: this.options.settings.odeSteps }),
      ...(this.checkpoint.config.albert && { sharedLayers: this.checkpoint.config.numLayers }),
      ...pruning,
    });
    this.api = await startHttpApi(backend, {
      port: this.options.httpPort,
      host: this.options.host,
      logger,
      apiKey: this.options.apiKey,
      metrics: this.operator.metrics,
      clusterView: () => this.operator.view(),
      calibrationSvg: () => this.operator.calibrationSvg(),
    });
    this.registry.on('changed', (e: { joined?: string; left?: string; reason?: string; graceful?: boolean }) =>
      this.onMembershipChange(e),
    );
    this.evictTimer = setInterval(
      () => this.registry.evictStale(heartbeatTimeoutMs),
      Math.max(50, heartbeatIntervalMs / 4),
    );
    this.evictTimer.unref();
    logger.info(
      { grpcPort: this.grpcPort, httpUrl: this.api.url, model: this.options.modelDir },
      'coordinator listening',
    );
  }

  get httpUrl(): string {
    return this.api!.url;
  }

  get activePlan(): Plan | undefined {
    return this.dispatcher.activePlan;
  }

  /** The active plan's data-plane key: for tools that talk to agents directly (and tests that fuzz them). */
  get dataPlaneKey(): { planVersion: number; key: Uint8Array } | undefined {
    return this.dispatcher.activeKey;
  }

  /** Data-plane bytes this coordinator sent to agents since start (benchmarks count traffic per request). */
  get dataPlaneBytesSent(): number {
    return this.dispatcher.bytesSent;
  }

  get modelInfo(): PlanModelInfo {
    const { config } = this.checkpoint;
    return {
      modelId: this.options.modelDir,
      numLayers: config.numLayers,
      numHeads: config.numHeads,
      intermediateSize: config.intermediateSize,
      numLabels: config.numLabels,
      exitLayers: this.checkpoint.exitLayers,
    };
  }

  /** Resolves with the first plan that becomes active (at once if one is). */
  waitForPlan(timeoutMs: number): Promise<Plan> {
    if (this.activePlan) return Promise.resolve(this.activePlan);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new CoordinatorError(COORDINATOR_ERROR_CODES.noPlanActive, `no plan became active within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      this.readyWaiters.push((plan) => {
        clearTimeout(timer);
        resolve(plan);
      });
    });
  }

  /** Agent counters over the data plane (tests use them to see which stages ran). */
  agentStats(agentId: string) {
    const record = this.registry.get(agentId);
    if (!record) throw new CoordinatorError(COORDINATOR_ERROR_CODES.unknownAgent, `unknown agent ${agentId}`);
    return this.dispatcher.agentStats(agentId, record.dataAddress);
  }

  private quiet = false;

  /** Shutting the cluster down: agents leaving from now on are expected, not failures to replan around. */
  quiesce(): void {
    this.quiet = true;
    clearTimeout(this.replanTimer);
  }

  private onMembershipChange(e: { joined?: string; left?: string; reason?: string; graceful?: boolean }): void {
    if (this.quiet) return;
    this.pinned = false;
    if (e.left) this.departed.add(e.left);
    if (e.joined) this.joinedSincePlan = true;
    const plan = this.dispatcher.activePlan;
    if (e.left) {
      this.options.logger.warn({ agent: e.left, reason: e.reason }, 'agent left');
      const inPlan = plan && plan.stages.some((s) => s.host === e.left || s.members.some((m) => m.agentId === e.left));
      // A graceful leaver keeps serving the old plan until the new one is active.
      if (inPlan && !e.graceful) this.dispatcher.invalidate(plan.version, `agent ${e.left} left (${e.reason})`);
    }
    this.scheduleReplan();
  }

  private scheduleReplan(): void {
    clearTimeout(this.replanTimer);
    // Agents of a sim cluster join within milliseconds of each other: plan once for all of them.
    this.replanTimer = setTimeout(() => {
      this.replanning = this.replanning
        .then(() => this.replan())
        .catch((err: Error) => this.options.logger.error({ err: err.message }, 'replanning failed'));
    }, 100);
  }

  private makePlan(onRepair: () => void): Plan | undefined {
    const { config } = this.checkpoint;
    return choosePlan({
      onRepair,
      agents: this.registry.connected(),
      active: this.activePlan,
      departed: this.departed,
      joinedSincePlan: this.joinedSincePlan,
      planFile: this.planFile,
      minAgents: this.options.minAgents,
      nextVersion: this.version + 1,
      settings: this.options.settings,
      model: plannerModelOf(this.options.modelDir, config, this.checkpoint.exitLayers, this.options.settings.odeSteps),
      exitRates: this.exitRates,
      ...(this.tokenKeep && { tokenKeep: this.tokenKeep }),
      link: (a, b) =>
        this.measuredLinks.get(`${a}|${b}`) ??
        this.measuredLinks.get(`${b}|${a}`) ??
        this.options.links?.(a, b) ??
        linkProfile('gigabit'),
      objective: this.options.objective ?? 'latency',
      seqLen: this.options.planSeqLen ?? Math.min(128, maxSequenceLength(config)),
      logger: this.options.logger,
    });
  }

  /**
   * Deploys a plan made elsewhere (a planner run, a benchmark's baseline) on the agents now connected;
   * it stays until membership changes. Endpoints and version are filled in here.
   */
  async applyPlan(plan: Plan): Promise<Plan> {
    const addresses = new Map(this.registry.connected().map((a) => [a.id, a.dataAddress]));
    const run = this.replanning.then(async () => {
      const next = completePlan({
        ...plan,
        version: this.version + 1,
        endpoints: [...addresses].map(([agentId, dataAddress]) => ({ agentId, dataAddress })),
        exit: plan.exit ?? {
          maxProbThreshold: this.options.settings.exitThreshold,
          policy: this.options.settings.exitPolicy ?? '',
        },
      });
      await this.deployAndActivate(next);
      this.pinned = true;
      return next;
    });
    this.replanning = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Once per set of agents (at join time): every agent measures its links to the others over the
   * data plane. Links slower than the gigabit the first plan assumed trigger a replan with the
   * measured figures (over Wi-Fi, groups stop paying).
   */
  private async measureLinksOnce(): Promise<void> {
    const agents = this.registry.connected();
    const key = agents
      .map((a) => a.id)
      .sort()
      .join(',');
    if (agents.length < 2 || key === this.measuredFor || this.quiet) return;
    this.measuredFor = key;
    const slower = await surveyLinks(agents, this.dispatcher, this.measuredLinks, this.options.logger);
    if (slower && !this.planFile && !this.pinned) {
      this.options.logger.info('links are slower than assumed: replanning with the measured figures');
      this.joinedSincePlan = true; // a full plan, not a repair
      this.scheduleReplan();
    }
  }

  private async replan(): Promise<void> {
    if (this.pinned) return; // an applied plan stays until membership changes (which unpins it)
    let kind: 'full' | 'repair' = 'full';
    const plan = this.makePlan(() => (kind = 'repair'));
    if (!plan) return;
    await this.deployAndActivate(plan, kind);
  }

  private async deployAndActivate(proposed: Plan, kind: 'full' | 'repair' = 'full'): Promise<void> {
    // Every connected agent is an endpoint of every plan, whether or not it holds a shard.
    const plan = completePlan({
      ...proposed,
      hiddenSize: this.checkpoint.config.hiddenSize,
      endpoints: this.registry.connected().map((a) => ({ agentId: a.id, dataAddress: a.dataAddress })),
    });
    validatePlan(plan, this.modelInfo, new Set(this.registry.connected().map((a) => a.id)));
    this.version = plan.version;
    this.options.logger.info(
      {
        plan: plan.version,
        stages: plan.stages.map(
          (s) => `${s.host}[${s.layerStart},${s.layerEnd})${s.members.length ? ` group of ${s.members.length}` : ''}`,
        ),
      },
      'deploying plan',
    );
    // A fresh data-plane key per plan: links of an old plan cannot be reused to talk about a new one.
    const dataPlaneKey = randomBytes(32);
    await deployPlan(plan, this.registry, this.store, {
      timeoutMs: this.options.deployTimeoutMs,
      logger: this.options.logger,
      progress: this.options.progress,
      dataPlaneKey,
    });
    await this.dispatcher.activate(plan, dataPlaneKey);
    this.operator.metrics.observePlanActivated(kind);
    this.departed.clear();
    this.joinedSincePlan = false;
    this.linkMeasurement = this.measureLinksOnce().catch((err: Error & { code?: string }) => {
      if (err.code !== DISPATCH_ERROR_CODES.closed)
        this.options.logger.warn({ err: err.message }, 'link measurement failed');
    });
    this.options.logger.info({ plan: plan.version }, 'plan active');
    for (const w of this.readyWaiters.splice(0)) w(plan);
  }

  async stop(): Promise<void> {
    this.quiesce();
    clearInterval(this.evictTimer);
    this.dispatcher?.close();
    await this.api?.close();
    for (const a of this.registry.connected()) a.stream?.end();
    await new Promise<void>((resolve) => {
      if (!this.grpcServer) return resolve();
      const server = this.grpcServer;
      const force = setTimeout(() => server.forceShutdown(), 2000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}
