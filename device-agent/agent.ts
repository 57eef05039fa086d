import { STEP_REFUSED_CODES, StepRefusedError } from './errors.js';
import type pino from 'pino';
import type * as grpc from '@grpc/grpc-js';
import type { Capabilities } from '@edgerelay/proto';
import type { Frame } from '@edgerelay/proto';
import { ControlClient } from './control-client.js';
import { CoordinatorLinks } from './data-plane/coordinator-links.js';
import { FrameRouter } from './data-plane/frame-router.js';
import type { DataPlaneCounters, DataPlaneTls, Link, LinkOptions } from '@edgerelay/proto';
import { PeerLinks } from './data-plane/peers.js';
import { DataPlaneServer } from './data-plane/server.js';
import { waitUntilQuiet } from './drain.js';
import { emulateCompute, type EmulatedDevice } from './emulated-device.js';
import { LinkShaper, type ComputeStretch } from './emulation.js';
import { StepAdmission } from './executor/admission.js';
import { StageExecutor } from './executor/stage-executor.js';
import { AgentStats } from './executor/stats.js';
import { LinkProber } from './link-probe.js';
import { Membership } from './membership.js';
import { AssignmentLoader } from './plan/assignment-loader.js';
import { profileDevice } from './profile.js';
import { ComputeThread, ShardSession } from './runtime/index.js';
import { ShardCache } from './shard-cache.js';

export interface AgentOptions {
  coordinator: string;
  name: string;
  /** Data-plane port; 0 picks a free one. */
  listenPort: number;
  listenHost: string;
  /** Host other agents and the coordinator use to reach this agent's data plane. */
  advertiseHost: string;
  threads: number;
  dataDir: string;
  logger: pino.Logger;
  groupTimeoutMs?: number;
  maxShardBytes?: number;
  /** Shared secret of the cluster; proven to the coordinator by challenge-response, never sent. */
  clusterToken?: string;
  /** Stage runs waiting or running at once; more are refused with a retryable error. */
  maxQueuedRequests?: number;
  /** Emulate a slower device (sim/): its GFLOP/s, memory, and network link. */
  emulate?: EmulatedDevice;
  /** Control-plane credentials (mutual TLS); insecure when undefined. */
  grpcCredentials?: grpc.ChannelCredentials;
  /** Data-plane credentials: serve and dial wss with mutual TLS; plain ws when undefined. */
  dataPlaneTls?: DataPlaneTls;
  /** Sequence-parallel groups: rows per transfer, and the block size from which the FFN overlaps the all-gather. */
  seqChunkRows?: number;
  seqOverlapMinRows?: number;
}

/**
 * The device agent daemon: registers with the coordinator, loads the shards its assignment names,
 * and runs its part of every request that reaches it over the data plane. This class only wires the
 * parts together; each part does one job.
 */
export class DeviceAgent {
  private server: DataPlaneServer | undefined;
  private control: ControlClient | undefined;
  private membership: Membership | undefined;
  private capabilities: Capabilities | undefined;
  /** Set in an emulated agent once start() measured this machine: stretches every shard run. */
  private stretch: ComputeStretch | undefined;
  private releaseEmulation: (() => Promise<void>) | undefined;
  private readonly stats = new AgentStats();
  /** Bytes every data-plane link of this agent sent (reported in its stats). */
  private readonly counters: DataPlaneCounters = { bytesSent: 0 };
  /** Handed to every link of this agent, accepted or dialed: one shaper, so they share one emulated uplink. */
  private readonly linkOptions: LinkOptions;
  private readonly cache: ShardCache;
  private readonly plans: AssignmentLoader;
  private readonly coordinatorLinks: CoordinatorLinks;
  private readonly peers: PeerLinks;
  private readonly executor: StageExecutor;
  private readonly admission: StepAdmission;
  private readonly router: FrameRouter;
  /** Every shard runs here, off the thread that moves frames (runtime/compute-thread.ts). */
  private readonly compute = new ComputeThread();
  dataPort = 0;

  constructor(private readonly options: AgentOptions) {
    const { logger } = options;
    this.linkOptions = {
      counters: this.counters,
      ...(options.emulate?.link && { shaper: new LinkShaper(options.emulate.link) }),
    };
    this.cache = new ShardCache(options.dataDir, { logger, onCorrupt: () => this.stats.cacheCorruptions++ });
    this.coordinatorLinks = new CoordinatorLinks(logger);
    const onFrame = (frame: Frame, link: Link) => this.router.route(frame, link);
    const onBad = (err: Error) => logger.warn({ err: err.message }, 'dropped a malformed data-plane frame');
    this.peers = new PeerLinks(
      options.name,
      onFrame,
      onBad,
      () => this.plans.dialKey(),
      this.linkOptions,
      options.dataPlaneTls,
    );
    this.plans = new AssignmentLoader({
      cache: this.cache,
      control: () => this.control!,
      agentId: () => this.membership!.agentId!,
      createSession: (model, workKey) =>
        ShardSession.create(model, {
          threads: options.threads,
          stretch: this.stretch,
          workKey,
          thread: this.compute,
        }),
      maxShardBytes: options.maxShardBytes ?? 2 ** 31,
      logger,
      onPlanLoaded: (plan) => this.peers.setAddresses(new Map(plan.endpoints.map((e) => [e.agentId, e.dataAddress]))),
    });
    this.executor = new StageExecutor(
      {
        agentId: options.name,
        groupTimeoutMs: options.groupTimeoutMs ?? 10_000,
        seqChunkRows: options.seqChunkRows,
        seqOverlapMinRows: options.seqOverlapMinRows,
      },
      {
        sendToAgent: (id, frame) => this.peers.send(id, frame),
        sendSeqToAgent: (id, frame) => this.peers.send(id, frame),
        sendToCoordinator: (frame) => this.coordinatorLinks.send(frame),
      },
      this.stats,
    );
    this.admission = new StepAdmission(
      { agentName: options.name, maxQueuedRequests: options.maxQueuedRequests ?? 64 },
      this.stats,
    );
    this.router = new FrameRouter({
      agentName: options.name,
      coordinatorLinks: this.coordinatorLinks,
      admission: this.admission,
      executor: this.executor,
      plan: (version) => this.plans.current(version),
      prober: new LinkProber((peer, frame) => this.peers.send(peer, frame)),
      stats: this.stats,
      counters: this.counters,
    });
  }

  get id(): string {
    return this.options.name;
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    this.server = await DataPlaneServer.start({
      host: this.options.listenHost,
      port: this.options.listenPort,
      keys: (version) => this.plans.admission(version),
      onFrame: (frame, link) => this.router.route(frame, link),
      onBadFrame: (err) => logger.warn({ err: err.message }, 'dropped a malformed data-plane frame'),
      onRejected: (why) => logger.warn({ why }, 'refused a data-plane connection'),
      onClosed: (link) => this.coordinatorLinks.delete(link),
      link: this.linkOptions,
      tls: this.options.dataPlaneTls,
    });
    this.dataPort = this.server.port;
    this.capabilities = await profileDevice({ threads: this.options.threads });
    if (this.options.emulate) {
      const emulated = await emulateCompute(this.options.emulate, this.capabilities, this.options.threads, this.stats);
      this.stretch = emulated.stretch;
      this.releaseEmulation = emulated.release;
      this.capabilities = emulated.capabilities;
    }
    const { gflops, int8Gflops } = this.capabilities;
    logger.info({ gflops, int8Gflops, port: this.dataPort }, 'profiled device');
    this.control = new ControlClient(this.options.coordinator, this.options.grpcCredentials);
    this.membership = new Membership(this.control, {
      name: this.options.name,
      dataAddress: `${this.options.advertiseHost}:${this.dataPort}`,
      capabilities: this.capabilities,
      cachedShards: () => this.cache.list(),
      clusterToken: this.options.clusterToken,
      logger,
      planVersion: () => this.plans.version,
      onAssignment: (assignment) => this.plans.enqueue(assignment),
    });
    await this.membership.join();
  }

  /**
   * Graceful shutdown (SIGTERM): tell the coordinator we are leaving so it plans without us, keep
   * serving what is in flight (and what the old plan still sends) until quiet, then stop.
   */
  async drain(maxMs = 10_000): Promise<void> {
    await this.membership?.leave();
    await waitUntilQuiet(() => this.admission.inFlight, maxMs);
    this.admission.close();
    await this.stop();
  }

  statsSnapshot(): AgentStats {
    return { ...this.stats };
  }

  async stop(): Promise<void> {
    this.admission.close();
    this.membership?.stop();
    this.executor.waiter.failAll(new StepRefusedError(STEP_REFUSED_CODES.agentStopping, 'agent stopping'));
    this.executor.seq.failAll(new StepRefusedError(STEP_REFUSED_CODES.agentStopping, 'agent stopping'));
    this.peers.closeAll();
    await this.server?.close();
    this.control?.close();
    await this.plans.release();
    await this.compute.close();
    await this.releaseEmulation?.();
  }
}
