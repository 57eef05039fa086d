import { randomBytes } from 'node:crypto';
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import pRetry, { AbortError } from 'p-retry';
import type pino from 'pino';
import type { Assignment__Output as Assignment, Capabilities } from '@edgerelay/proto';
import type { ControlClient } from './control-client.js';

export interface MembershipOptions {
  name: string;
  /** host:port of this agent's data plane. */
  dataAddress: string;
  capabilities: Capabilities;
  /** sha256 of the shards in the disk cache, read at each registration. */
  cachedShards: () => string[];
  clusterToken?: string;
  logger: pino.Logger;
  /** Plan version this agent runs, reported with every heartbeat. */
  planVersion: () => number;
  onAssignment: (assignment: Assignment) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait before following up a closed assignment stream (the coordinator may just be restarting). */
const REJOIN_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 5000;

/**
 * This agent's membership of the cluster: registration (retried with backoff), the assignment stream
 * and heartbeats. Every registration starts a new epoch; a stream closing or a heartbeat refused is
 * followed up only if it belongs to the current epoch. Without that, the close of the stream a
 * registration replaces (which the coordinator sends just before its reply) scheduled another
 * registration, which replaced the new stream, and so on: the cluster replanned twice a second.
 */
export class Membership {
  /** Random per process: tells the coordinator a re-registration from a second process under our name. */
  readonly instanceId = randomBytes(8).toString('hex');
  agentId: string | undefined;
  private epoch = 0;
  private registering = false;
  private stopped = false;
  private stream: grpc.ClientReadableStream<Assignment> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopRetrying: (() => void) | undefined;

  constructor(
    private readonly control: ControlClient,
    private readonly options: MembershipOptions,
  ) {}

  /** Registers, retrying until the coordinator accepts; resolves once the assignment stream is open. */
  async join(): Promise<void> {
    if (this.registering || this.stopped) return;
    this.registering = true;
    try {
      await this.registerLoop();
    } finally {
      this.registering = false;
    }
  }

  private async registerLoop(): Promise<void> {
    const stop = new AbortController();
    this.stopRetrying = () => stop.abort();
    try {
      // Exponential backoff with jitter (p-retry): agents that lost the coordinator together (it
      // restarted) do not all come back in the same millisecond.
      await pRetry(() => this.registerOnce(), {
        retries: Number.POSITIVE_INFINITY,
        factor: 2,
        minTimeout: 200,
        maxTimeout: MAX_RETRY_DELAY_MS,
        randomize: true,
        signal: stop.signal,
        onFailedAttempt: async ({ error }) => {
          const e = error as Error & { code?: number; details?: string };
          if (e.code === grpc.status.PERMISSION_DENIED || e.code === grpc.status.UNAUTHENTICATED) {
            // A wrong token stays wrong: say so plainly, keep retrying slowly.
            this.options.logger.error(
              { err: e.details ?? e.message },
              'the coordinator refused this agent: check --cluster-token',
            );
            await sleep(MAX_RETRY_DELAY_MS);
          } else if (e.code === grpc.status.ALREADY_EXISTS) {
            // Another process runs under our name; we take over only once it is gone.
            this.options.logger.error(
              { err: e.details ?? e.message },
              'another agent is already connected under this name: give this one another --name',
            );
            await sleep(MAX_RETRY_DELAY_MS);
          } else {
            this.options.logger.warn({ err: e.message }, 'coordinator not reachable; retrying');
          }
        },
      });
    } catch (err) {
      if (!this.stopped) throw err;
    } finally {
      this.stopRetrying = undefined;
    }
  }

  /** One registration: a new epoch, then Register, the assignment stream and heartbeats. */
  private async registerOnce(): Promise<void> {
    if (this.stopped) throw new AbortError('agent stopping');
    // From here on, whatever the previous registration's stream or heartbeats report is history.
    const epoch = ++this.epoch;
    const reply = await this.control.register(
      this.options.name,
      this.options.dataAddress,
      this.options.capabilities,
      this.options.cachedShards(),
      this.options.clusterToken,
      this.instanceId,
    );
    if (this.stopped) return;
    this.agentId = reply.agentId;
    this.watch(epoch);
    this.startHeartbeat(epoch, reply.heartbeatIntervalMs || 1000);
    this.options.logger.info({ agentId: reply.agentId }, 'registered with the coordinator');
  }

  private current(epoch: number): boolean {
    return !this.stopped && epoch === this.epoch;
  }

  private watch(epoch: number): void {
    this.stream?.cancel();
    const stream = this.control.watchAssignments(this.agentId!);
    this.stream = stream;
    stream.on('data', (assignment: Assignment) => {
      if (this.current(epoch)) this.options.onAssignment(assignment);
    });
    stream.on('error', () => undefined);
    stream.on('close', () => {
      if (!this.current(epoch)) return;
      setTimeout(() => this.current(epoch) && void this.join(), REJOIN_DELAY_MS);
    });
  }

  private startHeartbeat(epoch: number, intervalMs: number): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (!this.agentId) return;
      this.control
        .heartbeat(this.agentId, this.options.planVersion(), os.loadavg()[0] ?? 0, os.freemem())
        .then((reply) => {
          // The coordinator forgot this registration (we were frozen, or it restarted): join again.
          if (!reply.known && this.current(epoch)) void this.join();
        })
        .catch(() => undefined);
    }, intervalMs);
    this.heartbeatTimer.unref();
  }

  /**
   * Tells the coordinator we are leaving (graceful drain). From here on the closed assignment stream
   * and the heartbeats the coordinator no longer knows are expected: following them up would register
   * the leaver again and plan it back in while it drains.
   */
  async leave(): Promise<void> {
    this.stopped = true;
    this.stopRetrying?.();
    clearInterval(this.heartbeatTimer);
    if (this.agentId) await this.control.leave(this.agentId).catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    this.stopRetrying?.();
    clearInterval(this.heartbeatTimer);
    this.stream?.cancel();
  }
}
