import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import type { HostTensor } from '../runtime/index.js';
import { PendingReplies } from '../util/pending-replies.js';

/**
 * Gathers the partial sums of a group's members for one (request, layer, part).
 * The waiter is registered before the scatter is sent, so an early partial is never lost.
 */
export class PartialWaiter {
  /** One wait per key, resolved with all its partials once the last member answered. */
  private readonly replies = new PendingReplies<string, HostTensor[]>();
  /** Partials received so far, per key being waited on. */
  private readonly gathering = new Map<string, { expected: number; received: HostTensor[] }>();

  static key(requestId: string, layer: number, part: string): string {
    return `${requestId}/${layer}/${part}`;
  }

  expect(key: string, expected: number, timeoutMs: number): Promise<HostTensor[]> {
    if (expected === 0) return Promise.resolve([]);
    // A second wait on the same key (a request id sent twice) would overwrite the first, whose timer
    // would then delete the second: refuse it before anything is scattered for it.
    if (this.replies.has(key))
      throw new StepRefusedError(
        STEP_REFUSED_CODES.duplicateRequestId,
        `already gathering ${key}: duplicate request id`,
      );
    const gathered = this.replies.wait(key, timeoutMs, () => {
      this.gathering.delete(key);
      return new StepRefusedError(
        STEP_REFUSED_CODES.groupTimeout,
        `group members did not answer ${key} within ${timeoutMs} ms`,
      );
    });
    this.gathering.set(key, { expected, received: [] });
    return gathered;
  }

  /** Returns false when nobody waits for this partial (late, duplicate or unknown). */
  deliver(key: string, partial: HostTensor): boolean {
    const g = this.gathering.get(key);
    if (!g) return false;
    g.received.push(partial);
    if (g.received.length === g.expected) {
      this.gathering.delete(key);
      this.replies.deliver(key, g.received);
    }
    return true;
  }

  fail(key: string, err: Error): void {
    this.gathering.delete(key);
    this.replies.fail(key, err);
  }

  /** Fails every wait of one request (a member reported an error for it). */
  failRequest(requestId: string, err: Error): void {
    for (const key of this.replies.keys()) if (key.startsWith(`${requestId}/`)) this.fail(key, err);
  }

  failAll(err: Error): void {
    for (const key of this.replies.keys()) this.fail(key, err);
  }
}
