import { EdgeRelayError } from '@edgerelay/proto';

/** A second wait on a key still waited on: the first would be orphaned (its timer would end the second). */
export class DuplicateWaitError extends EdgeRelayError {
  override readonly code = 'EDGERELAY_DUPLICATE_WAIT';
}

interface Waiter<V> {
  resolve: (value: V) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Replies awaited by key, each with a timeout: whoever sends a question registers here first (so an
 * early answer is never lost), whoever receives the answer delivers it. Every wait ends exactly once:
 * delivered, failed, or timed out, and its timer is cleared either way.
 */
export class PendingReplies<K, V> {
  private readonly waiters = new Map<K, Waiter<V>>();

  /**
   * Waits for the reply to `key`. After `timeoutMs` the wait is dropped and rejects with
   * `onTimeout()`, called at that moment (so it may also clean up whatever the caller keeps per key).
   * Throws DuplicateWaitError, synchronously, while `key` is already waited on.
   */
  wait(key: K, timeoutMs: number, onTimeout: () => Error): Promise<V> {
    if (this.waiters.has(key)) throw new DuplicateWaitError(`already waiting for a reply to ${String(key)}`);
    return new Promise<V>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        reject(onTimeout());
      }, timeoutMs);
      this.waiters.set(key, { resolve, reject, timer });
    });
  }

  /** Resolves the wait for `key`; false when nobody waits for it (late, duplicate or unknown). */
  deliver(key: K, value: V): boolean {
    const w = this.take(key);
    w?.resolve(value);
    return w !== undefined;
  }

  /** Rejects the wait for `key`; false when nobody waits for it. */
  fail(key: K, err: Error): boolean {
    const w = this.take(key);
    w?.reject(err);
    return w !== undefined;
  }

  failAll(err: Error): void {
    for (const key of this.keys()) this.fail(key, err);
  }

  has(key: K): boolean {
    return this.waiters.has(key);
  }

  /** The keys waited on now (a copy: failing them while iterating is safe). */
  keys(): K[] {
    return [...this.waiters.keys()];
  }

  get size(): number {
    return this.waiters.size;
  }

  private take(key: K): Waiter<V> | undefined {
    const w = this.waiters.get(key);
    if (!w) return undefined;
    clearTimeout(w.timer);
    this.waiters.delete(key);
    return w;
  }
}
