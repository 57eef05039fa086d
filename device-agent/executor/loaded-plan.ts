import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import type { ShardSpec } from '@edgerelay/proto';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import { shardKey } from '../plan/roles.js';
import type { ShardSession } from '../runtime/index.js';

/** A plan version with every session this agent needs for it, loaded and ready to run. */
export class LoadedPlan {
  constructor(
    readonly plan: Plan,
    private readonly sessions: Map<string, ShardSession>,
    /** This plan version's data-plane key: peers must prove it to talk to us about this plan. */
    readonly dataPlaneKey: Uint8Array,
    private readonly hashes: Map<string, ShardSession> = new Map(),
  ) {}

  get version(): number {
    return this.plan.version;
  }

  session(spec: ShardSpec): ShardSession {
    const s = this.sessions.get(shardKey(spec));
    if (!s)
      throw new StepRefusedError(
        STEP_REFUSED_CODES.noShard,
        `plan ${this.plan.version} gave this agent no shard "${shardKey(spec)}"`,
      );
    return s;
  }

  /** Sessions by shard hash, so the next plan can reuse the ones it shares with this one. */
  sessionsByHash(): Map<string, ShardSession> {
    return new Map(this.hashes);
  }

  /** Releases this plan's sessions, except those a newer plan took over. */
  async release(keep: ReadonlySet<ShardSession> = new Set()): Promise<void> {
    // A set: slots of a shared layer map to one session, released once.
    await Promise.all([...new Set(this.sessions.values())].filter((s) => !keep.has(s)).map((s) => s.release()));
  }
}
