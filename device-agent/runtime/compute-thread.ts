import { Worker } from 'node:worker_threads';
import type { HostTensor } from '@edgerelay/proto';
import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import type { ComputeReply, ComputeRequest } from './compute-protocol.js';

/** How long close() waits for a run under way to end. */
const CLOSE_WAIT_MS = 10_000;

type Pending = { resolve: (reply: ComputeReply & { ok: true }) => void; reject: (err: Error) => void };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A thread of the agent's own for ONNX Runtime (compute-worker.ts). A run there leaves the main thread free to
 * move frames while it computes: a member's keys and values leave as soon as they are sent, and its peers'
 * arrive and are decoded during its own run, as a device's network card keeps working while its CPU computes.
 */
export class ComputeThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;
  private readonly exited: Promise<void>;

  constructor() {
    this.worker = startWorker();
    // Idle, it must not keep the process alive (a test, a CLI that forgot close()).
    this.worker.unref();
    this.worker.on('message', (reply: ComputeReply) => this.settle(reply));
    const died = (why: string) =>
      this.failAll(
        new StepRefusedError(
          STEP_REFUSED_CODES.agentStopping,
          `the agent's compute thread stopped (${why}); restart the agent`,
        ),
      );
    this.worker.on('error', (err) => died(err.message));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        died(`exit code ${code}`);
        resolve();
      }),
    );
  }

  private settle(reply: ComputeReply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply);
    else waiter.reject(new Error(reply.message));
  }

  private failAll(failure: StepRefusedError): void {
    this.failure ??= failure;
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
  }

  private request(req: DistributiveOmit<ComputeRequest, 'id'>, transfer: ArrayBuffer[] = []) {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<ComputeReply & { ok: true }>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  async load(model: Uint8Array, threads: number | undefined) {
    const copy = model.slice(); // one copy of the shard's bytes alone, handed over (not the buffer it may sit in)
    const reply = await this.request({ op: 'load', model: copy, threads }, [copy.buffer as ArrayBuffer]);
    if (!('loaded' in reply)) throw new Error('the compute thread answered a load with something else');
    return reply.loaded;
  }

  /** Runs a session there. The feeds are copied (their owners keep using them), the outputs handed over. */
  async run(
    session: number,
    feeds: Record<string, HostTensor>,
  ): Promise<{ outputs: Record<string, HostTensor>; cpuMs: number }> {
    const copies: Record<string, HostTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      const data = t.data.slice();
      transfer.push(data.buffer as ArrayBuffer);
      copies[name] = { ...t, data } as HostTensor;
    }
    const reply = await this.request({ op: 'run', session, feeds: copies }, transfer);
    if (!('outputs' in reply)) throw new Error('the compute thread answered a run with something else');
    return reply;
  }

  async release(session: number): Promise<void> {
    if (this.failure) return;
    await this.request({ op: 'release', session });
  }

  /**
   * Fails what is pending, and lets the thread end once the run under way is over (waited for at most
   * CLOSE_WAIT_MS). Terminating it inside a run, or exiting the process then, would abort the process: stop the
   * agent before exiting.
   */
  async close(): Promise<void> {
    this.failAll(
      new StepRefusedError(STEP_REFUSED_CODES.agentStopping, 'agent stopping: its compute thread is closed'),
    );
    this.worker.postMessage({ op: 'close', id: -1 });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
  }
}

/** Built, the worker is the .js file beside this one; run from source (tsx), a loader of tsx's in front of the .ts. */
function startWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  return new Worker(new URL(fromSource ? './compute-worker-from-source.mjs' : './compute-worker.js', import.meta.url));
}
