import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import {
  acceptLink,
  WS_OPTIONS,
  type BadFrameHandler,
  type FrameHandler,
  type KeyLookup,
  type Link,
  type LinkOptions,
  clientCertificateName,
  type DataPlaneTls,
} from '@edgerelay/proto';
import { MAX_PENDING_HANDSHAKES } from '@edgerelay/proto';

export interface DataPlaneServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  keys: KeyLookup;
  onFrame: FrameHandler;
  onBadFrame: BadFrameHandler;
  onRejected: (why: string) => void;
  onClosed: (link: Link) => void;
  /** TCP connections at once, authenticated or not (a plan has a handful of peers). */
  maxConnections?: number;
  /** Handed to every accepted link: the agent's counters and, emulated, its shaper. */
  link?: LinkOptions;
  /**
   * Serve wss with mutual TLS: only peers with a certificate from the cluster CA connect, and each
   * must say the name its certificate carries in its hello.
   */
  tls?: DataPlaneTls;
}

/** Close code for a connection refused because too many others are still owing their handshake. */
export const TRY_AGAIN_LATER = 1013;

/**
 * The agent's data-plane listener. Memory stays bounded whatever arrives: at most
 * `maxConnections` sockets, of which at most MAX_PENDING_HANDSHAKES are unauthenticated and may
 * send only handshake-sized messages; authenticated ones send at most their plan's frame limit.
 */
export class DataPlaneServer {
  private pending = 0;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {}

  static async start(options: DataPlaneServerOptions): Promise<DataPlaneServer> {
    const refuse = (_req: IncomingMessage, res: ServerResponse) =>
      res.writeHead(426, { Connection: 'close' }).end('the edgerelay data plane speaks WebSocket only\n');
    const http = options.tls
      ? createTlsServer({ ...options.tls, requestCert: true, rejectUnauthorized: true }, refuse)
      : createServer(refuse);
    http.maxConnections = options.maxConnections ?? 512;
    const wss = new WebSocketServer({ server: http, ...WS_OPTIONS });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port, options.host, () => resolve());
    });
    const server = new DataPlaneServer(http, wss, (http.address() as AddressInfo).port);
    wss.on('connection', (socket, req) => {
      if (server.pending >= MAX_PENDING_HANDSHAKES) {
        options.onRejected(`${server.pending} connections are already waiting for their handshake`);
        socket.close(TRY_AGAIN_LATER, 'too many pending handshakes');
        return;
      }
      server.pending++;
      let waiting = true;
      const settled = () => {
        if (waiting) server.pending--;
        waiting = false;
      };
      const link = acceptLink(
        socket,
        (version) => {
          const admission = options.keys(version);
          if (admission) settled();
          return admission;
        },
        options.onFrame,
        options.onBadFrame,
        options.onRejected,
        options.link,
        options.tls ? clientCertificateName(req) : undefined,
      );
      socket.once('close', () => {
        settled();
        options.onClosed(link);
      });
    });
    return server;
  }

  get clients(): number {
    return this.wss.clients.size;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    await new Promise<void>((r) => this.http.close(() => r()));
  }
}
