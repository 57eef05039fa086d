import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import type {
  Assignment,
  Capabilities__Output as Capabilities,
  RegisterRequest__Output as RegisterRequest,
  WatchRequest__Output,
} from '@edgerelay/proto';

export interface AgentRecord {
  id: string;
  /** Random per agent process (RegisterRequest.instance_id). */
  instanceId: string;
  dataAddress: string;
  capabilities: Capabilities;
  cachedShards: Set<string>;
  lastSeenMs: number;
  /** The open WatchAssignments stream, once the agent follows it. */
  stream?: grpc.ServerWritableStream<WatchRequest__Output, Assignment>;
  /** Highest plan version the agent reported loaded. */
  readyVersion: number;
  /** Error the agent reported for a plan it could not load. */
  loadError?: { version: number; message: string };
  /**
   * While an agent loads a plan's shards its event loop may be busy for seconds (ONNX Runtime builds
   * sessions synchronously): until this time it gets a longer heartbeat allowance.
   */
  loadingUntilMs?: number;
  /** Load and free memory from the latest heartbeat (the registration's figures until one arrives). */
  load?: { loadAverage: number; memoryFreeBytes: number };
}

/**
 * The agents the coordinator knows. Emits 'changed' when the membership that plans depend on
 * changes (an agent joined with its stream, or left), and 'ready' when an agent reports a plan loaded.
 */
export class AgentRegistry extends EventEmitter {
  private readonly agents = new Map<string, AgentRecord>();

  register(req: RegisterRequest): AgentRecord {
    const previous = this.agents.get(req.name);
    previous?.stream?.end();
    const record: AgentRecord = {
      id: req.name,
      instanceId: req.instanceId,
      dataAddress: req.dataAddress,
      capabilities: req.capabilities!,
      cachedShards: new Set(req.cachedShards),
      lastSeenMs: Date.now(),
      readyVersion: 0,
    };
    this.agents.set(record.id, record);
    return record;
  }

  /**
   * The live agent a registration would displace if it is another process under the same name: one
   * with an open stream, heard from within `liveWithinMs`, and a different instance id. A process
   * re-registering itself, or one replacing a silent predecessor, is no conflict.
   */
  conflictingInstance(req: RegisterRequest, liveWithinMs: number, now = Date.now()): AgentRecord | undefined {
    const current = this.agents.get(req.name);
    if (!current?.stream || current.instanceId === req.instanceId) return undefined;
    return now - current.lastSeenMs <= liveWithinMs ? current : undefined;
  }

  attachStream(id: string, stream: NonNullable<AgentRecord['stream']>): boolean {
    const record = this.agents.get(id);
    if (!record) return false;
    record.stream = stream;
    this.emit('changed', { joined: id });
    return true;
  }

  /** Forgets an agent, but only if `stream` is still its current one (a re-registration replaced it otherwise). */
  detachStream(id: string, stream: NonNullable<AgentRecord['stream']>): void {
    const record = this.agents.get(id);
    if (!record || record.stream !== stream) return;
    this.agents.delete(id);
    this.emit('changed', { left: id, reason: 'its control stream closed' });
  }

  private lastSweepMs = 0;

  /** Forgets agents silent for longer than `timeoutMs` (frozen, partitioned); returns their ids. */
  evictStale(timeoutMs: number, now = Date.now()): string[] {
    // If the coordinator itself was blocked, the heartbeats are waiting in its queue, not missing.
    const stalled = this.lastSweepMs > 0 && now - this.lastSweepMs > timeoutMs / 2;
    this.lastSweepMs = now;
    if (stalled) {
      for (const a of this.agents.values()) a.lastSeenMs = now;
      return [];
    }
    const allowance = (a: AgentRecord) =>
      a.loadingUntilMs && a.loadingUntilMs > now ? Math.max(timeoutMs, a.loadingUntilMs - a.lastSeenMs) : timeoutMs;
    const stale = [...this.agents.values()].filter((a) => a.stream && now - a.lastSeenMs > allowance(a));
    for (const a of stale) {
      this.agents.delete(a.id);
      a.stream?.end();
      this.emit('changed', { left: a.id, reason: `no heartbeat for ${now - a.lastSeenMs} ms` });
    }
    return stale.map((a) => a.id);
  }

  /** A graceful departure: plan without the agent, but its in-flight work may finish. */
  leave(id: string): void {
    const record = this.agents.get(id);
    if (!record) return;
    this.agents.delete(id);
    record.stream?.end();
    this.emit('changed', { left: id, graceful: true, reason: 'it is shutting down' });
  }

  /** A heartbeat: the agent is alive, and (when it says) this is its load now. */
  seen(id: string, load?: { loadAverage: number; memoryFreeBytes: number }): AgentRecord | undefined {
    const record = this.agents.get(id);
    if (record) {
      record.lastSeenMs = Date.now();
      if (load) record.load = load;
    }
    return record;
  }

  markReady(id: string, version: number, ok: boolean, error: string): void {
    const record = this.agents.get(id);
    if (!record) return;
    record.loadingUntilMs = undefined;
    record.lastSeenMs = Date.now();
    if (ok) record.readyVersion = Math.max(record.readyVersion, version);
    else record.loadError = { version, message: error };
    this.emit('ready', { id, version, ok });
  }

  get(id: string): AgentRecord | undefined {
    return this.agents.get(id);
  }

  /** Agents with an open assignment stream: the ones a plan can use. */
  connected(): AgentRecord[] {
    return [...this.agents.values()].filter((a) => a.stream);
  }
}
