import WebSocket from 'ws';
import { EdgeRelayError } from '../errors.js';
import { decodeFrame, encodeFrame, FrameError, type Frame, type FrameOf } from '../frames.js';
import { dataPlaneProof, newNonce, proofsEqual } from '../security/proofs.js';
import { HANDSHAKE_MAX_BYTES, maxFrameBytesFor, setMessageLimit } from './limits.js';
import { expectServerName, helloCertificateMismatch, type DataPlaneTls } from './tls.js';

/** Stable codes of DataPlaneError: why dialing a data plane failed. */
export const DATA_PLANE_ERROR_CODES = {
  /** The socket could not be opened (refused, unreachable, reset before the handshake). */
  unreachable: 'EDGERELAY_DATA_PLANE_UNREACHABLE',
  /** The other side sent no challenge in time. */
  handshakeTimeout: 'EDGERELAY_DATA_PLANE_HANDSHAKE_TIMEOUT',
  /** The other side closed the connection before the handshake ended (e.g. it refused the proof). */
  closed: 'EDGERELAY_DATA_PLANE_CLOSED',
} as const;
export type DataPlaneErrorCode = (typeof DATA_PLANE_ERROR_CODES)[keyof typeof DATA_PLANE_ERROR_CODES];

/** Dialing a data-plane address failed; `code` says how. */
export class DataPlaneError extends EdgeRelayError {
  constructor(
    override readonly code: DataPlaneErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type FrameHandler = (frame: Frame, link: Link) => void;
export type BadFrameHandler = (error: FrameError, link: Link) => void;

/** What a plan version admits on the data plane: its key, and the largest frame it can send. */
export interface PlanAdmission {
  key: Uint8Array;
  maxFrameBytes: number;
}
/** Server side: the plan versions this process accepts peers for. */
export type KeyLookup = (planVersion: number) => PlanAdmission | undefined;
/** Dialer side: the plan version and key to prove. */
export interface DialKey {
  planVersion: number;
  key: Uint8Array;
  /** Largest frame the other side may send once connected (default: the widest the frame schema allows). */
  maxFrameBytes?: number;
}

/** Bytes one owner's links sent (an agent's, or the coordinator dispatcher's), shared by all of them. */
export interface DataPlaneCounters {
  bytesSent: number;
}

/** Holds outgoing frames back as a slower network would: the delay in ms before `bytes` may go (sim/ emulated links). */
export interface LinkShaper {
  reserve(bytes: number): number;
}

/** What a link's owner hands each of its links: its counters, and in an emulated agent its shaper. */
export interface LinkOptions {
  counters?: DataPlaneCounters;
  /** Holds frames back as the emulated network link would; one per agent, shared by all its links (one uplink). */
  shaper?: LinkShaper;
}

/** Node's timers wait whole milliseconds (libuv). */
export const TIMER_GRANULARITY_MS = 1;

/** Close code for a peer that failed the handshake. */
export const UNAUTHENTICATED = 4401;
const HANDSHAKE_MS = 5000;

/**
 * One WebSocket carrying data-plane frames in both directions. Malformed frames are reported and
 * dropped; until the peer has proven it holds a plan key, nothing but the handshake is processed.
 */
export class Link {
  /** Who is on the other end, once authenticated. */
  peer: { role: 'coordinator' | 'agent'; id: string } | undefined;
  bytesSent = 0;
  bytesReceived = 0;
  private authenticated = false;

  constructor(
    readonly socket: WebSocket,
    private readonly onFrame: FrameHandler,
    private readonly onBadFrame: BadFrameHandler,
    /** Judges a frame before authentication: the frame limit to admit the peer with, or undefined. */
    private readonly handshake: (frame: Frame) => number | undefined,
    private readonly options: LinkOptions = {},
  ) {
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data, isBinary) => this.receive(data as Buffer | Buffer[] | ArrayBuffer, isBinary));
    // An 'error' without a listener would throw; the close that follows is what callers act on.
    socket.on('error', (err: Error & { code?: string }) => {
      // ws refused a message from its header alone (too large), closing with 1009: say which limit.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        const limit = this.authenticated
          ? "the plan's frame limit"
          : `the ${HANDSHAKE_MAX_BYTES}-byte limit before the handshake`;
        this.onBadFrame(new FrameError(`message over ${limit}: connection closed without reading it`), this);
      }
    });
  }

  /** The peer proved itself: from now on it may send frames up to `maxFrameBytes`. */
  private admit(maxFrameBytes: number): boolean {
    if (!setMessageLimit(this.socket, maxFrameBytes)) {
      this.onBadFrame(
        new FrameError('cannot raise the message limit of this ws version: refusing the connection'),
        this,
      );
      this.close(1011, 'internal error');
      return false;
    }
    this.authenticated = true;
    return true;
  }

  private receive(data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): void {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    this.bytesReceived += bytes.byteLength;
    // Before the handshake a malformed message ends the connection: an unauthenticated peer gets
    // no budget of bad frames to make us decode (and log) until the handshake timer fires.
    const bad = (error: FrameError) => {
      this.onBadFrame(error, this);
      if (!this.authenticated) this.close(UNAUTHENTICATED, 'malformed frame before the handshake');
    };
    if (!isBinary) return bad(new FrameError('text message on the data plane; frames are binary msgpack'));
    let frame: Frame;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      return bad(err instanceof FrameError ? err : new FrameError(String(err)));
    }
    if (!this.authenticated) {
      const admitted = this.handshake(frame);
      if (admitted !== undefined) this.admit(admitted);
      return;
    }
    this.onFrame(frame, this);
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends a frame; returns false (and drops it) when the socket is not open. */
  send(frame: Frame): boolean {
    if (!this.open) return false;
    const bytes = encodeFrame(frame);
    this.bytesSent += bytes.byteLength;
    if (this.options.counters) this.options.counters.bytesSent += bytes.byteLength;
    const { shaper } = this.options;
    if (shaper) {
      this.held.push({ bytes, due: performance.now() + shaper.reserve(bytes.byteLength) });
      if (this.held.length === 1) this.releaseDue();
      return true;
    }
    this.socket.send(bytes, { binary: true });
    return true;
  }

  /** Frames the emulated link still holds, in the order sent: each leaves when it would have arrived. */
  private readonly held: { bytes: Buffer; due: number }[] = [];

  private releaseDue(): void {
    // Timers fire in whole milliseconds (0.3 ms waits 1 ms): a wait under half of one is closer to nothing,
    // which keeps small frames (int8 rows) from all paying a full millisecond; the shaper has still counted
    // their bytes. A timer can also fire up to a millisecond early (libuv truncates the delay and reads a clock
    // cached per loop turn), so a frame not yet due waits again: otherwise the link would run fast.
    while (this.held.length > 0 && this.held[0]!.due - performance.now() < TIMER_GRANULARITY_MS / 2) {
      const { bytes } = this.held.shift()!;
      if (this.open) this.socket.send(bytes, { binary: true });
    }
    if (this.held.length > 0) setTimeout(() => this.releaseDue(), this.held[0]!.due - performance.now());
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }
}

/** Until a connection is authenticated it may carry only handshake-sized messages (see limits.ts). */
export const WS_OPTIONS = { maxPayload: HANDSHAKE_MAX_BYTES, perMessageDeflate: false } as const;

/**
 * Server side of a new connection: send a challenge, accept only a hello that proves a known plan key.
 * A peer that fails, or stays silent, is disconnected.
 */
export function acceptLink(
  socket: WebSocket,
  keys: KeyLookup,
  onFrame: FrameHandler,
  onBadFrame: BadFrameHandler,
  onRejected?: (why: string) => void,
  options: LinkOptions = {},
  /** CN of the client certificate the connection presented (TLS); undefined on a plain connection. */
  certificateName?: string,
): Link {
  const nonce = newNonce();
  const timer = setTimeout(() => link.close(UNAUTHENTICATED, 'handshake timeout'), HANDSHAKE_MS);
  const link: Link = new Link(
    socket,
    onFrame,
    onBadFrame,
    (frame) => {
      const reject = (why: string) => {
        clearTimeout(timer);
        onRejected?.(why);
        link.close(UNAUTHENTICATED, 'unauthenticated');
        return undefined;
      };
      if (frame.type !== 'hello') return reject(`expected hello, got ${frame.type}`);
      const admission = keys(frame.planVersion);
      if (!admission) return reject(`hello from ${frame.from} names unknown plan ${frame.planVersion}`);
      if (!proofsEqual(dataPlaneProof(admission.key, nonce, frame.role, frame.from), frame.proof))
        return reject(`bad proof from ${frame.from}`);
      const mismatch = helloCertificateMismatch(certificateName, frame);
      if (mismatch) return reject(mismatch);
      clearTimeout(timer);
      link.peer = { role: frame.role, id: frame.from };
      onFrame(frame, link);
      return admission.maxFrameBytes;
    },
    options,
  );
  socket.once('close', () => clearTimeout(timer));
  link.send({ type: 'challenge', nonce });
  return link;
}

export interface DialOptions extends LinkOptions {
  /** How long the other side has to send its challenge. */
  timeoutMs?: number;
  /** Dial wss with these credentials, and accept only a server whose certificate names `peer`. */
  tls?: { credentials: DataPlaneTls; peer: string };
}

/**
 * ws hands these to tls.connect as they are. The CA check is the TLS library's; the name check is ours:
 * agents are reached by address, and their certificates name the agent, not the host. (ws's typings
 * declare checkServerIdentity as returning a boolean; tls.connect wants Node's Error-or-undefined form.)
 */
function tlsClientOptions(credentials: DataPlaneTls, peer: string): WebSocket.ClientOptions {
  return { ...credentials, checkServerIdentity: expectServerName(peer) } as unknown as WebSocket.ClientOptions;
}

/** Dials a data-plane address (host:port), answers its challenge, and resolves once the hello is sent. */
export function dial(
  address: string,
  hello: { role: 'coordinator' | 'agent'; from: string },
  key: DialKey,
  onFrame: FrameHandler,
  onBadFrame: BadFrameHandler,
  options: DialOptions = {},
): Promise<Link> {
  const { timeoutMs = HANDSHAKE_MS, tls, ...linkOptions } = options;
  return new Promise((resolve, reject) => {
    // A zero mask lets ws skip XOR-masking every byte a dialer sends (in plain JS without bufferutil):
    // masking guards browsers' proxies against cache poisoning, which does not apply between agents,
    // and hidden states are megabytes per request.
    const socket = new WebSocket(`${tls ? 'wss' : 'ws'}://${address}`, {
      ...WS_OPTIONS,
      handshakeTimeout: timeoutMs,
      generateMask: (mask: Buffer) => void mask.fill(0),
      ...(tls && tlsClientOptions(tls.credentials, tls.peer)),
    });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(
        new DataPlaneError(
          DATA_PLANE_ERROR_CODES.handshakeTimeout,
          `data plane at ${address} sent no challenge within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    const link: Link = new Link(
      socket,
      onFrame,
      onBadFrame,
      (frame) => {
        if (frame.type !== 'challenge') return undefined;
        clearTimeout(timer);
        const answer: FrameOf<'hello'> = {
          type: 'hello',
          ...hello,
          planVersion: key.planVersion,
          proof: dataPlaneProof(key.key, frame.nonce, hello.role, hello.from),
        };
        link.send(answer);
        resolve(link);
        return key.maxFrameBytes ?? maxFrameBytesFor(0);
      },
      linkOptions,
    );
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(
        new DataPlaneError(DATA_PLANE_ERROR_CODES.unreachable, `cannot reach data plane at ${address}: ${err.message}`),
      );
    });
    socket.once('close', (code) => {
      clearTimeout(timer);
      reject(
        new DataPlaneError(DATA_PLANE_ERROR_CODES.closed, `data plane at ${address} closed the connection (${code})`),
      );
    });
  });
}
