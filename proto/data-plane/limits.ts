import type WebSocket from 'ws';
import { FRAME_LIMITS } from '../frames.js';

/**
 * How large a data-plane message may be, and how many connections may wait for their handshake.
 *
 * Before a peer has proven the plan key, the only messages are a challenge and a hello (a few hundred
 * bytes): anything larger is refused by ws from the frame header alone, before a byte of it is
 * buffered or decoded. After the handshake, a message may be as large as the plan's largest
 * legitimate frame (a hidden state of the longest request, or a link probe), not the 64 MiB ceiling.
 */
export const HANDSHAKE_MAX_BYTES = 4096;

/**
 * Connections still owing their handshake at once; more are closed at once (1013, try again later).
 * Each may hold at most HANDSHAKE_MAX_BYTES and is cut after the 5 s handshake timeout, so 128 cost
 * well under a megabyte, while a crowd of them cannot easily starve the plan's own peers.
 */
export const MAX_PENDING_HANDSHAKES = 128;

/** Room for everything in a frame besides its tensors: ids, the trace, the exit state, msgpack framing. */
const FRAME_OVERHEAD_BYTES = 64 * 1024;
/** The link prober's largest payload (proto/frames.ts caps probes at 2 MiB). */
const PROBE_BYTES = 2 << 20;

/**
 * The largest frame a plan with this hidden width can legitimately carry: a float32 hidden state of
 * the longest request plus its int64 ids and mask, or a link probe. 0 (unknown) assumes the widest
 * hidden state the frame schema accepts.
 */
export function maxFrameBytesFor(hiddenSize: number): number {
  const hidden = hiddenSize > 0 ? Math.min(hiddenSize, FRAME_LIMITS.maxHidden) : FRAME_LIMITS.maxHidden;
  const tensors = FRAME_LIMITS.maxTokens * (hidden * 4 + 2 * 8);
  return Math.min(FRAME_LIMITS.maxFrameBytes, Math.max(tensors, PROBE_BYTES) + FRAME_OVERHEAD_BYTES);
}

interface ReceiverInternals {
  _receiver?: { _maxPayload?: unknown };
}

/**
 * Changes the largest message ws accepts on an open connection. ws takes `maxPayload` only when a
 * connection opens and has no public setter, so this sets the field its receiver checks against each
 * frame header (ws 8, receiver.js). test/data-plane-limits.test.ts fails if a ws upgrade moves it.
 * Returns false when the field is not there, and the caller must not trust the connection.
 */
export function setMessageLimit(socket: WebSocket, bytes: number): boolean {
  const receiver = (socket as unknown as ReceiverInternals)._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') return false;
  receiver._maxPayload = bytes;
  return true;
}
