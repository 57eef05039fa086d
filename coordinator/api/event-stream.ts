import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServiceUnavailableError } from './http-errors.js';

/** Open live views at once: each holds a connection and gets the whole view every interval. */
const MAX_CLIENTS = 32;

/**
 * Server-sent events of the cluster view (GET /v1/events): the view at once, then again every
 * `intervalMs`, so the cluster page stays live without polling.
 */
export class ClusterEventStream {
  private readonly clients = new Set<ServerResponse>();

  constructor(
    private readonly view: () => unknown,
    private readonly intervalMs = 1000,
  ) {}

  serve(req: IncomingMessage, res: ServerResponse): void {
    if (this.clients.size >= MAX_CLIENTS)
      throw new ServiceUnavailableError(`${MAX_CLIENTS} live views are open already; close one and retry`, 5);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    this.clients.add(res);
    const push = () => {
      if (!res.writableEnded) res.write(`event: cluster\ndata: ${JSON.stringify(this.view())}\n\n`);
    };
    push();
    const timer = setInterval(push, this.intervalMs);
    const stop = () => {
      clearInterval(timer);
      this.clients.delete(res);
    };
    res.on('close', stop);
    req.on('close', stop);
  }

  /** Ends every live view (the server is closing: these connections would never go idle). */
  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
