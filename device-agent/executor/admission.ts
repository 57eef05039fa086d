import type { FrameOf } from '@edgerelay/proto';
import type { AgentStats } from './stats.js';

export interface AdmissionOptions {
  /** This agent's name, prefixed to every error message so the coordinator's logs say who failed. */
  agentName: string;
  /** Steps waiting or running at once; more are refused with a retryable error. */
  maxQueuedRequests: number;
}

/** Where a step's error frame goes: back on the link it came from, or to the coordinator. */
export type ErrorReply = (frame: FrameOf<'error'>) => void;

/**
 * Admission of request steps (stage runs, group shares): counts those in flight, refuses more than
 * the limit and any once closed (draining), and turns a step's failure into a retryable error frame.
 */
export class StepAdmission {
  private running = 0;
  private closed = false;

  constructor(
    private readonly options: AdmissionOptions,
    private readonly stats: AgentStats,
  ) {}

  /** Steps accepted and not finished yet. */
  get inFlight(): number {
    return this.running;
  }

  /** Refuses every step from now on (the agent is shutting down). */
  close(): void {
    this.closed = true;
  }

  /** Runs a request step; a failure becomes an error frame (retryable), never an exception. */
  async guard(requestId: string, planVersion: number, step: () => Promise<void>, reply: ErrorReply): Promise<void> {
    if (this.running >= this.options.maxQueuedRequests || this.closed) {
      const why = this.closed ? 'agent is shutting down' : `overloaded: ${this.running} steps queued`;
      reply({ type: 'error', requestId, planVersion, message: `${this.options.agentName}: ${why}`, retryable: true });
      return;
    }
    this.running++;
    try {
      await step();
    } catch (err) {
      this.stats.failures++;
      reply({
        type: 'error',
        requestId,
        planVersion,
        message: `${this.options.agentName}: ${(err as Error).message}`,
        retryable: true,
      });
    } finally {
      this.running--;
    }
  }
}
