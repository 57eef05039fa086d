import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';

/** Rows [rowStart, rowStart + rows) of a flattened [batch × seq, hidden] tensor, from a group peer. */
export interface RowBlock {
  rowStart: number;
  rows: number;
  data: Float32Array;
}

interface Box {
  items: RowBlock[];
  waiter?: { resolve: (b: RowBlock) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
  /** Drops rows nobody came for (a request that failed or was cancelled here before they arrived). */
  expiry?: NodeJS.Timeout;
}

/** Runs remembered as over, so their late rows are dropped at once; bounded. */
const MAX_CLOSED = 1024;

/**
 * Where a sequence-parallel member's incoming rows wait, per (request, layer, phase), until it takes them.
 * Unlike PartialWaiter, rows arriving before the member asks are kept (peers run ahead by a phase or a
 * layer), and they are taken one block at a time, so a member computes on what has arrived.
 */
export class RowMailbox {
  private readonly boxes = new Map<string, Box>();
  private readonly closed = new Set<string>();

  constructor(
    /** How long unclaimed rows are kept, and how long a take waits. */
    private readonly timeoutMs: number,
  ) {}

  /** One request's pass through one stage: a request may meet the same agent in two stages. */
  static run(requestId: string, stage: number): string {
    return `${requestId}/${stage}`;
  }

  static key(run: string, layer: number, phase: string): string {
    return `${run}/${layer}/${phase}`;
  }

  private box(key: string): Box {
    let box = this.boxes.get(key);
    if (!box) this.boxes.set(key, (box = { items: [] }));
    return box;
  }

  /** Returns false when the run is already over here (the rows are dropped). */
  deliver(run: string, key: string, block: RowBlock): boolean {
    if (this.closed.has(run)) return false;
    const box = this.box(key);
    if (box.waiter) {
      const { resolve, timer } = box.waiter;
      clearTimeout(timer);
      box.waiter = undefined;
      this.forgetIfEmpty(key, box);
      resolve(block);
      return true;
    }
    box.items.push(block);
    if (!box.expiry) {
      box.expiry = setTimeout(() => this.boxes.delete(key), this.timeoutMs * 2);
      box.expiry.unref();
    }
    return true;
  }

  /** The next block for `key` of `run`, waiting up to the timeout for one to arrive; refused once the run is over. */
  take(run: string, key: string): Promise<RowBlock> {
    if (this.closed.has(run))
      return Promise.reject(new StepRefusedError(STEP_REFUSED_CODES.groupCancelled, `${run} is over on this agent`));
    const box = this.box(key);
    const ready = box.items.shift();
    if (ready) {
      this.forgetIfEmpty(key, box);
      return Promise.resolve(ready);
    }
    if (box.waiter)
      throw new StepRefusedError(
        STEP_REFUSED_CODES.duplicateRequestId,
        `already waiting for ${key}: duplicate request id`,
      );
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        box.waiter = undefined;
        this.forgetIfEmpty(key, box);
        reject(
          new StepRefusedError(
            STEP_REFUSED_CODES.groupTimeout,
            `group members did not send rows of ${key} within ${this.timeoutMs} ms`,
          ),
        );
      }, this.timeoutMs);
      box.waiter = { resolve, reject, timer };
    });
  }

  private forgetIfEmpty(key: string, box: Box): void {
    if (box.items.length > 0 || box.waiter) return;
    if (box.expiry) clearTimeout(box.expiry);
    this.boxes.delete(key);
  }

  /** The run is over on this agent: fail its waits, drop its rows, and drop rows that still come. */
  close(run: string, err: Error): void {
    this.closed.add(run);
    if (this.closed.size > MAX_CLOSED) this.closed.delete(this.closed.values().next().value!);
    const prefix = `${run}/`;
    for (const [key, box] of this.boxes) {
      if (!key.startsWith(prefix)) continue;
      this.boxes.delete(key);
      if (box.expiry) clearTimeout(box.expiry);
      if (box.waiter) {
        clearTimeout(box.waiter.timer);
        box.waiter.reject(err);
      }
    }
  }

  /** Fails every wait of one request, whatever the stage (a member reported an error for it). */
  failRequest(requestId: string, err: Error): void {
    const runs = new Set([...this.boxes.keys()].filter((k) => k.startsWith(`${requestId}/`)).map(runOf));
    for (const run of runs) this.close(run, err);
  }

  failAll(err: Error): void {
    for (const run of new Set([...this.boxes.keys()].map(runOf))) this.close(run, err);
  }

  /** Keys with rows or a waiter (for tests). */
  get size(): number {
    return this.boxes.size;
  }
}

/** requestId/stage of a requestId/stage/layer/phase key (request ids hold no '/': they are UUIDs or test names). */
function runOf(key: string): string {
  return key.split('/').slice(0, -2).join('/');
}
