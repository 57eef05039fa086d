import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import type pino from 'pino';
import type { Assignment__Output as Assignment, Plan__Output as Plan } from '@edgerelay/proto';
import type { ControlClient } from '../control-client.js';
import { maxFrameBytesFor } from '@edgerelay/proto';
import type { DialKey, PlanAdmission } from '@edgerelay/proto';
import { LoadedPlan } from '../executor/loaded-plan.js';
import type { ShardSession } from '../runtime/index.js';
import type { ShardCache } from '../shard-cache.js';
import { shardKey } from './roles.js';
import { specFromMessage } from './spec-codec.js';
import { workKeyOf } from './work-key.js';

/** How long the replaced plan stays loaded, so requests already on it can finish. */
const PREVIOUS_PLAN_GRACE_MS = 5000;

export interface AssignmentLoaderOptions {
  cache: ShardCache;
  /** The control client and this agent's id, as of now (assignments only arrive once registered). */
  control: () => ControlClient;
  agentId: () => string;
  /** Loads one shard's model bytes into a session (threads and, emulated, the compute stretch are the agent's). */
  /** `workKey`: what the shard computes, layer aside (work-key.ts). */
  createSession: (model: Uint8Array, workKey: string) => Promise<ShardSession>;
  maxShardBytes: number;
  logger: pino.Logger;
  /** A new plan is loaded: its endpoints are where peers are from now on. */
  onPlanLoaded: (plan: Plan) => void;
}

/**
 * The plans this agent runs: applies each assignment in turn (shards from the disk cache or fetched
 * from the coordinator, loaded, swapped in, reported ready) and keeps the replaced plan a while.
 */
export class AssignmentLoader {
  private loaded: LoadedPlan | undefined;
  /** The plan replaced last, kept for a grace period so requests already on it can finish. */
  private previous: LoadedPlan | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly options: AssignmentLoaderOptions) {}

  /** Version of the newest plan loaded; 0 before the first. */
  get version(): number {
    return this.loaded?.version ?? 0;
  }

  /** Applies assignments one after another, in the order they arrived. */
  enqueue(assignment: Assignment): void {
    this.chain = this.chain.then(() => this.apply(assignment));
  }

  /** The loaded plan a request names: the newest, or the previous one during its grace period. */
  current(planVersion: number): LoadedPlan {
    if (this.previous?.version === planVersion) return this.previous;
    if (!this.loaded || this.loaded.version !== planVersion) {
      throw new StepRefusedError(
        STEP_REFUSED_CODES.wrongPlanVersion,
        `request is for plan ${planVersion} but this agent runs plan ${this.loaded?.version ?? 'none'}`,
      );
    }
    return this.loaded;
  }

  /** What a peer proving `version` is admitted with, while this agent runs that plan. */
  admission(version: number): PlanAdmission | undefined {
    const plan = [this.loaded, this.previous].find((p) => p?.version === version);
    return plan && { key: plan.dataPlaneKey, maxFrameBytes: maxFrameBytesFor(plan.plan.hiddenSize) };
  }

  /** The key to prove when dialing a peer: the newest plan's. */
  dialKey(): DialKey | undefined {
    const loaded = this.loaded;
    return loaded
      ? {
          planVersion: loaded.version,
          key: loaded.dataPlaneKey,
          maxFrameBytes: maxFrameBytesFor(loaded.plan.hiddenSize),
        }
      : undefined;
  }

  /** Releases the newest plan's sessions (the agent is stopping). */
  async release(): Promise<void> {
    await this.loaded?.release();
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
        // Shards with the same bytes (every slot of a shared ALBERT layer) get one session: weights once per device.
        const reused = byHash.get(ref.sha256) ?? reusable.get(ref.sha256);
        if (reused) {
          sessions.set(shardKey(spec), reused);
          byHash.set(ref.sha256, reused);
          continue;
        }
        const bytes = await this.shardBytes(ref.sha256, ref.sizeBytes);
        const session = await this.options.createSession(bytes, workKeyOf(spec, bytes.byteLength));
        fresh.push(session);
        sessions.set(shardKey(spec), session);
        byHash.set(ref.sha256, session);
      }
      const previous = this.loaded;
      this.loaded = new LoadedPlan(plan, sessions, new Uint8Array(assignment.dataPlaneKey), byHash);
      const kept = new Set(sessions.values());
      this.options.onPlanLoaded(plan);
      const loadMs = performance.now() - started;
      await this.options
        .control()
        .reportReady({ agentId: this.options.agentId(), planVersion: plan.version, ok: true, loadMs });
      this.options.logger.info(
        { plan: plan.version, shards: assignment.shards.length, loadMs: Math.round(loadMs) },
        'plan loaded',
      );
      // In-flight requests of the old plan may still hold its sessions; release them a little later.
      if (previous) {
        this.previous = previous;
        setTimeout(() => {
          if (this.previous === previous) this.previous = undefined;
          void previous.release(kept);
        }, PREVIOUS_PLAN_GRACE_MS).unref();
      }
    } catch (err) {
      await Promise.all(fresh.map((s) => s.release()));
      const message = (err as Error).message;
      this.options.logger.error({ err: message, plan: plan.version }, 'could not load the assignment');
      await this.options
        .control()
        .reportReady({ agentId: this.options.agentId(), planVersion: plan.version, ok: false, error: message })
        .catch(() => undefined);
    }
  }

  /** A shard's bytes: from the disk cache, else fetched from the coordinator and cached. */
  private async shardBytes(sha256: string, sizeBytes: number): Promise<Uint8Array> {
    let bytes = this.options.cache.get(sha256);
    if (!bytes) {
      bytes = await this.options
        .control()
        .fetchShard(this.options.agentId(), sha256, sizeBytes, this.options.maxShardBytes);
      this.options.cache.put(sha256, bytes);
    }
    return bytes;
  }
}
