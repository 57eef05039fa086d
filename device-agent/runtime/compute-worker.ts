import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ComputeReply, ComputeRequest } from './compute-protocol.js';
import { shardSessionOptions } from './ort-options.js';
import { fromOrtResults, toOrtFeeds } from './ort-tensors.js';

/**
 * The agent's compute thread (compute-thread.ts): holds its shard sessions and runs them one at a time. ONNX
 * Runtime's Node binding runs a session synchronously, so on the main thread a run would stop the data plane:
 * frames queued to send would wait, and arriving ones would sit unread, for the whole run.
 */
const sessions = new Map<number, ort.InferenceSession>();
let nextSession = 0;

function reply(message: ComputeReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

async function handle(req: Exclude<ComputeRequest, { op: 'close' }>): Promise<void> {
  if (req.op === 'load') {
    const session = await ort.InferenceSession.create(req.model, shardSessionOptions(req.threads));
    const id = nextSession++;
    sessions.set(id, session);
    return reply({
      id: req.id,
      ok: true,
      loaded: { session: id, inputNames: [...session.inputNames], outputNames: [...session.outputNames] },
    });
  }
  const session = sessions.get(req.session);
  if (!session) throw new Error(`compute thread has no session ${req.session} (released?)`);
  if (req.op === 'release') {
    sessions.delete(req.session);
    await session.release();
    return reply({ id: req.id, ok: true, released: true });
  }
  // The process's clock, as the reference speed is measured (host-speed.ts). It also takes in what the main
  // thread does meanwhile; the stretch keeps each kind of run's cleanest time, so a busy moment does not stick.
  const start = process.cpuUsage();
  const results = await session.run(toOrtFeeds(req.feeds));
  const used = process.cpuUsage(start);
  const cpuMs = (used.user + used.system) / 1000;
  const outputs = fromOrtResults(results, true);
  const transfer = Object.values(outputs).map((t) => t.data.buffer as ArrayBuffer);
  reply({ id: req.id, ok: true, outputs, cpuMs }, transfer);
}

// One request at a time: a run's CPU clock must not take in another's, and the device computes one thing at once.
let queue: Promise<void> = Promise.resolve();
let closing = false;
parentPort!.on('message', (req: ComputeRequest) => {
  if (req.op === 'close') {
    // Handled between runs: the runs still queued are skipped. The thread ends on its own once the run under way
    // is over; being terminated inside a run would abort the whole process (the binding throws into a dying
    // environment).
    closing = true;
    queue = queue.then(async () => {
      for (const session of sessions.values()) await session.release();
      sessions.clear();
      parentPort!.close();
    });
    return;
  }
  queue = queue.then(() =>
    closing
      ? undefined
      : handle(req).catch((err: unknown) =>
          reply({ id: req.id, ok: false, message: err instanceof Error ? err.message : String(err) }),
        ),
  );
});
