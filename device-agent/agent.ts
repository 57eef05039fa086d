import type pino from 'pino';
import type * as grpc from '@grpc/grpc-js';
import type { Frame } from '../proto/frames.js';
import type { Assignment__Output as Assignment, Capabilities } from '../proto/control.js';
import { ControlClient } from './control-client.js';
import { Membership } from './membership.js';
import { Link } from './data-plane/link.js';
import { maxFrameBytesFor } from './data-plane/limits.js';
import { DataPlaneServer } from './data-plane/server.js';
import { PeerLinks } from './data-plane/peers.js';
import { LoadedPlan } from './executor/loaded-plan.js';
import { StageExecutor } from './executor/stage-executor.js';
import { AgentStats } from './executor/stats.js';
import { shardKey } from './plan/roles.js';
import { specFromMessage } from './plan/spec-codec.js';
import { measureGflops, profileDevice } from './profile.js';
import { fromWire, ShardSession } from './runtime/index.js';
import { ShardCache } from './shard-cache.js';
import { ComputeStretch, LinkShaper, type EmulatedLink } from './emulation.js';
import { LinkProber } from './link-probe.js';

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
  emulate?: { gflops: number; memoryBytes?: number; link?: EmulatedLink; referenceGflops?: number };
  /** Control-plane credentials (mutual TLS); insecure when undefined. */
  grpcCredentials?: grpc.ChannelCredentials;
}

/**
 * The device agent daemon: registers with the coordinator, loads the shards its assignment names,
 * and runs its part of every request that reaches it over the data plane.
 */
export class DeviceAgent {
  private server: DataPlaneServer | undefined;
  private control: ControlClient | undefined;
  private get agentId(): string | undefined {
    return this.membership?.agentId;
  }
  private loaded: LoadedPlan | undefined;
  /** The plan replaced last, kept for a grace period so requests already on it can finish. */
  private previous: LoadedPlan | undefined;
  private readonly coordinatorLinks = new Set<Link>();
  private readonly stats = new AgentStats();
  private readonly cache: ShardCache;
  private readonly peers: PeerLinks;
  private readonly executor: StageExecutor;
  private readonly prober = new LinkProber((peer, frame) => this.peers.send(peer, frame));
  private capabilities: Capabilities | undefined;
  private membership: Membership | undefined;
  private assignmentChain: Promise<void> = Promise.resolve();
  /** Request steps (stage runs, group shares) accepted and not finished yet. */
  private inFlight = 0;
  dataPort = 0;

  constructor(private readonly options: AgentOptions) {
    this.cache = new ShardCache(options.dataDir, { logger: options.logger, onCorrupt: () => this.stats.cacheCorruptions++ });
    const onFrame = (frame: Frame, link: Link) => this.onFrame(frame, link);
    const onBad = (err: Error) => options.logger.warn({ err: err.message }, 'dropped a malformed data-plane frame');
    this.peers = new PeerLinks(options.name, onFrame, onBad, () =>
      this.loaded ? { planVersion: this.loaded.version, key: this.loaded.dataPlaneKey, maxFrameBytes: maxFrameBytesFor(this.loaded.plan.hiddenSize) } : undefined,
    );
    this.executor = new StageExecutor(
      { agentId: options.name, groupTimeoutMs: options.groupTimeoutMs ?? 10_000 },
      {
        sendToAgent: (id, frame) => this.peers.send(id, frame),
        sendToCoordinator: (frame) => this.sendToCoordinator(frame),
      },
      this.stats,
    );
  }

  get id(): string {
    return this.options.name;
  }

  async start(): Promise<void> {
    await this.startDataPlane();
    this.capabilities = await profileDevice({ threads: this.options.threads });
    const emulate = this.options.emulate;
    if (emulate) {
      // Measured speed first, then stretch: the coordinator plans with the emulated device's figures.
      // One reference figure for all emulated agents of a machine (the launcher measures it once)
      // keeps their speeds consistent with each other; measure here only when none was given.
      const cpuGflops = emulate.referenceGflops ?? (await measureGflops({ threads: this.options.threads, clock: 'cpu' }));
      ShardSession.stretch = new ComputeStretch(Math.max(1, cpuGflops / emulate.gflops));
      this.capabilities = { ...this.capabilities, gflops: emulate.gflops, ...(emulate.memoryBytes && { memoryTotalBytes: emulate.memoryBytes, memoryFreeBytes: emulate.memoryBytes }) };
      if (emulate.link) Link.shaper = new LinkShaper(emulate.link);
    }
    this.options.logger.info({ gflops: this.capabilities.gflops, port: this.dataPort }, 'profiled device');
    this.control = new ControlClient(this.options.coordinator, this.options.grpcCredentials);
    this.membership = new Membership(this.control, {
      name: this.options.name,
      dataAddress: `${this.options.advertiseHost}:${this.dataPort}`,
      capabilities: this.capabilities,
      cachedShards: () => this.cache.list(),
      clusterToken: this.options.clusterToken,
      logger: this.options.logger,
      planVersion: () => this.loaded?.version ?? 0,
      onAssignment: (assignment) => {
        this.assignmentChain = this.assignmentChain.then(() => this.apply(assignment));
      },
    });
    await this.membership.join();
  }

  private async startDataPlane(): Promise<void> {
    const { logger } = this.options;
    this.server = await DataPlaneServer.start({
      host: this.options.listenHost,
      port: this.options.listenPort,
      keys: (version) => {
        const plan = [this.loaded, this.previous].find((p) => p?.version === version);
        return plan && { key: plan.dataPlaneKey, maxFrameBytes: maxFrameBytesFor(plan.plan.hiddenSize) };
      },
      onFrame: (frame, link) => this.onFrame(frame, link),
      onBadFrame: (err) => logger.warn({ err: err.message }, 'dropped a malformed data-plane frame'),
      onRejected: (why) => logger.warn({ why }, 'refused a data-plane connection'),
      onClosed: (link) => this.coordinatorLinks.delete(link),
    });
    this.dataPort = this.server.port;
  }

  /** Fetches missing shards (the disk cache first), loads them all, swaps the plan in, reports ready. */
  private async apply(assignment: Assignment): Promise<void> {
    const plan = assignment.plan!;
    const started = performance.now();
    const sessions = new Map<string, ShardSession>();
    const byHash = new Map<string, ShardSession>();
    // Sessions of shards the current plan already runs are reused: a replan after a failure only
    // loads what actually moved to this agent.
    const reusable = this.loaded?.sessionsByHash() ?? new Map<string, ShardSession>();
    const fresh: ShardSession[] = [];
    try {
      for (const ref of assignment.shards) {
        const spec = specFromMessage(ref.spec!);
        const reused = reusable.get(ref.sha256);
        if (reused) {
          sessions.set(shardKey(spec), reused);
          byHash.set(ref.sha256, reused);
          continue;
        }
        let bytes = this.cache.get(ref.sha256);
        if (!bytes) {
          bytes = await this.control!.fetchShard(this.agentId!, ref.sha256, ref.sizeBytes, this.options.maxShardBytes ?? 2 ** 31);
          this.cache.put(ref.sha256, bytes);
        }
        const session = await ShardSession.create(bytes, { threads: this.options.threads });
        fresh.push(session);
        sessions.set(shardKey(spec), session);
        byHash.set(ref.sha256, session);
      }
      const previous = this.loaded;
      this.loaded = new LoadedPlan(plan, sessions, new Uint8Array(assignment.dataPlaneKey), byHash);
      const kept = new Set(sessions.values());
      this.peers.setAddresses(new Map(plan.endpoints.map((e) => [e.agentId, e.dataAddress])));
      const loadMs = performance.now() - started;
      await this.control!.reportReady({ agentId: this.agentId!, planVersion: plan.version, ok: true, loadMs });
      this.options.logger.info({ plan: plan.version, shards: assignment.shards.length, loadMs: Math.round(loadMs) }, 'plan loaded');
      // In-flight requests of the old plan may still hold its sessions; release them a little later.
      if (previous) {
        this.previous = previous;
        setTimeout(() => {
          if (this.previous === previous) this.previous = undefined;
          void previous.release(kept);
        }, 5000).unref();
      }
    } catch (err) {
      await Promise.all(fresh.map((s) => s.release()));
      const message = (err as Error).message;
      this.options.logger.error({ err: message, plan: plan.version }, 'could not load the assignment');
      await this.control!.reportReady({ agentId: this.agentId!, planVersion: plan.version, ok: false, error: message }).catch(() => undefined);
    }
  }

  private sendToCoordinator(frame: Frame): void {
    // Any open coordinator link will do: the coordinator matches answers by request id.
    for (const link of this.coordinatorLinks) if (link.send(frame)) return;
    this.options.logger.warn({ type: frame.type }, 'no coordinator link to send an answer on');
  }

  private onFrame(frame: Frame, link: Link): void {
    switch (frame.type) {
      case 'hello':
        if (frame.role === 'coordinator') this.coordinatorLinks.add(link);
        return;
      case 'stage-input':
        void this.guard(frame.requestId, frame.planVersion, () => this.executor.runStage(frame, this.current(frame.planVersion)));
        return;
      case 'scatter':
        void this.guard(frame.requestId, frame.planVersion, async () => {
          link.send(await this.executor.runScatter(frame, this.current(frame.planVersion)));
        }, link);
        return;
      case 'partial':
        this.executor.waiter.deliver(`${frame.requestId}/${frame.layer}/${frame.part}`, fromWire(frame.partial));
        return;
      case 'error':
        // A group member failed its share: the host stops waiting for that request.
        this.executor.waiter.failRequest(frame.requestId, new Error(frame.message));
        return;
      case 'probe':
        link.send({ type: 'probe-echo', requestId: frame.requestId, seq: frame.seq });
        return;
      case 'probe-echo':
        this.prober.echoed(frame);
        return;
      case 'probe-request':
        if (link.peer?.role === 'coordinator') void this.measureLinks(frame.requestId, frame.peers, link);
        return;
      case 'stats-request':
        link.send({ type: 'stats', requestId: frame.requestId, agent: this.options.name, ...this.stats, bytesSent: Link.totalBytesSent });
        return;
      default:
        return;
    }
  }

  /** Measures the link to each peer in turn (one at a time, so they do not share the uplink) and reports. */
  private async measureLinks(requestId: string, peers: string[], replyTo: Link): Promise<void> {
    const links = [];
    const errors: string[] = [];
    for (const peer of peers.filter((p) => p !== this.options.name)) {
      try {
        links.push(await this.prober.measure(requestId, peer));
      } catch (err) {
        errors.push(`${peer}: ${(err as Error).message}`.slice(0, 500));
      }
    }
    replyTo.send({ type: 'link-report', requestId, agent: this.options.name, links, errors });
  }

  private current(planVersion: number): LoadedPlan {
    if (this.previous?.version === planVersion) return this.previous;
    if (!this.loaded || this.loaded.version !== planVersion) {
      throw new Error(`request is for plan ${planVersion} but this agent runs plan ${this.loaded?.version ?? 'none'}`);
    }
    return this.loaded;
  }

  /** Runs a request step; a failure becomes an error frame (retryable), never an exception. */
  private async guard(requestId: string, planVersion: number, step: () => Promise<void>, replyTo?: Link): Promise<void> {
    const limit = this.options.maxQueuedRequests ?? 64;
    if (this.inFlight >= limit || this.draining) {
      const why = this.draining ? 'agent is shutting down' : `overloaded: ${this.inFlight} steps queued`;
      const frame = { type: 'error' as const, requestId, planVersion, message: `${this.options.name}: ${why}`, retryable: true };
      if (replyTo) replyTo.send(frame);
      else this.sendToCoordinator(frame);
      return;
    }
    this.inFlight++;
    try {
      await step();
    } catch (err) {
      this.stats.failures++;
      const frame = { type: 'error' as const, requestId, planVersion, message: `${this.options.name}: ${(err as Error).message}`, retryable: true };
      if (replyTo) replyTo.send(frame);
      else this.sendToCoordinator(frame);
    } finally {
      this.inFlight--;
    }
  }

  private draining = false;

  /**
   * Graceful shutdown (SIGTERM): tell the coordinator we are leaving so it plans without us, keep
   * serving what is in flight (and what the old plan still sends) until quiet, then stop.
   */
  async drain(maxMs = 10_000): Promise<void> {
    await this.membership?.leave();
    const deadline = Date.now() + maxMs;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      if (this.inFlight > 0) quietSince = Date.now();
      else if (Date.now() - quietSince > 300) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.draining = true;
    await this.stop();
  }

  statsSnapshot(): AgentStats {
    return { ...this.stats };
  }

  async stop(): Promise<void> {
    this.draining = true;
    this.membership?.stop();
    this.executor.waiter.failAll(new Error('agent stopping'));
    this.peers.closeAll();
    await this.server?.close();
    this.control?.close();
    await this.loaded?.release();
  }
}
