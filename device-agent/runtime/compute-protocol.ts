import type { HostTensor } from '@edgerelay/proto';

/** Messages between an agent's main thread and its compute thread (compute-thread.ts, compute-worker.ts). */
export type ComputeRequest =
  | { op: 'load'; id: number; model: Uint8Array; threads: number | undefined }
  | { op: 'run'; id: number; session: number; feeds: Record<string, HostTensor> }
  | { op: 'release'; id: number; session: number }
  /** Finish the run under way, skip the queued ones, release every session and end the thread. */
  | { op: 'close'; id: number };

export type ComputeReply =
  | { id: number; ok: true; loaded: { session: number; inputNames: string[]; outputNames: string[] } }
  | { id: number; ok: true; outputs: Record<string, HostTensor>; cpuMs: number }
  | { id: number; ok: true; released: true }
  | { id: number; ok: false; message: string };
