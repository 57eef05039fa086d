import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

import type pino from 'pino';
import { TokenPruningSpecError } from '@edgerelay/device-agent';

import {
  BackendUnavailableError,
  InputTooLongError,
  type ClassificationOutcome,
  type ClassifierBackend,
} from './backend.js';
import {
  ClientGoneError,
  HttpApiError,
  HttpApiStartError,
  InvalidRequestError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  TextTooLongError,
} from './http-errors.js';
import { classifyRequestParser, DEFAULT_API_LIMITS, requireJsonContentType, type ApiLimits } from './request-schema.js';
import { detailedBody, hfResults, outcomeHeaders } from './response-format.js';
import { ClusterEventStream } from './event-stream.js';
import { clusterPageHtml } from './page/index.js';

export type { ApiLimits } from './request-schema.js';

export interface HttpApiOptions {
  /** 0 picks a free port; read it back from HttpApi.port. */
  port: number;
  /** Defaults to 127.0.0.1: exposing the API beyond the host is an explicit choice. */
  host?: string;
  limits?: Partial<ApiLimits>;
  logger?: pino.Logger;
  /** When set, /v1/classify requires `Authorization: Bearer <apiKey>` (what Hugging Face clients send as accessToken). */
  apiKey?: string;
  /** A request's headers must all arrive within this long of its start, else 408 and the connection is closed. */
  headersTimeoutMs?: number;
  /**
   * The whole request, headers and body, must arrive within this long of its start, else 408 and the
   * connection is closed. Only receiving counts: the time spent classifying does not.
   */
  receiveTimeoutMs?: number;
  /** Serves GET /metrics (behind the API key when one is set) and hears the classify endpoint's statuses. */
  metrics?: MetricsEndpoint;
  /**
   * Serves GET /v1/cluster (the topology and recent traffic, as JSON), GET /v1/events (the same, live, as
   * server-sent events), both behind the API key when one is set, and the cluster page at GET /.
   */
  clusterView?: () => unknown;
  /** GET /v1/calibration.svg: the calibration curves the deployment uses (404 when it was not calibrated). */
  calibrationSvg?: () => Promise<string | undefined>;
  /** How often /v1/events sends the view; 1 s by default. */
  eventIntervalMs?: number;
}

/** The Prometheus side of the API: the exposition text, and a tally of classify responses. */
export interface MetricsEndpoint {
  readonly contentType: string;
  text(): Promise<string>;
  /** A classify response went out; 503s say why (no plan yet, or overload/deadline). */
  observeHttpResponse(status: number, rejectedReason?: 'not_ready' | 'unavailable'): void;
}

/** Node's own defaults hold a trickled body for 5 minutes; a 1 MiB body needs far less even on a slow link. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_RECEIVE_TIMEOUT_MS = 15_000;

export interface HttpApi {
  readonly port: number;
  /** Base URL, e.g. http://127.0.0.1:8080; classify at `${url}/v1/classify`. */
  readonly url: string;
  /**
   * Stops accepting connections and resolves once in-flight requests have been answered; connections
   * still busy after a grace period (a stuck backend, a client trickling a body) are cut.
   */
  close(): Promise<void>;
}

export const CLASSIFY_PATH = '/v1/classify';
export const HEALTH_PATH = '/healthz';
export const METRICS_PATH = '/metrics';
export const CLUSTER_PATH = '/v1/cluster';
export const EVENTS_PATH = '/v1/events';
export const PAGE_PATH = '/';
export const CALIBRATION_PLOT_PATH = '/v1/calibration.svg';
/** Retry-After while no plan is deployed: deployment takes seconds, not milliseconds. */
const NOT_READY_RETRY_AFTER_S = 5;
/** How long close() lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 10_000;

function bearerMatches(header: string | undefined, key: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(key);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Starts the client-facing HTTP API (Hugging Face text-classification compatible) on top of a backend. */
export async function startHttpApi(backend: ClassifierBackend, options: HttpApiOptions): Promise<HttpApi> {
  const limits: ApiLimits = { ...DEFAULT_API_LIMITS, ...options.limits };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new HttpApiStartError(`limits.${name} must be a positive integer, got ${value}`);
  }
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const receiveTimeout = options.receiveTimeoutMs ?? DEFAULT_RECEIVE_TIMEOUT_MS;
  for (const [name, value] of Object.entries({ headersTimeoutMs: headersTimeout, receiveTimeoutMs: receiveTimeout })) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new HttpApiStartError(`${name} must be a positive integer of milliseconds, got ${value}`);
  }
  if (headersTimeout > receiveTimeout) {
    throw new HttpApiStartError(
      `headersTimeoutMs (${headersTimeout}) must not exceed receiveTimeoutMs (${receiveTimeout}): the headers are part of the request`,
    );
  }
  const host = options.host ?? '127.0.0.1';
  const log = options.logger;
  const parse = classifyRequestParser(limits);
  let closing: Promise<void> | undefined;
  /** Responses refused with 503 because no plan is deployed yet (the metrics tell that apart from overload). */
  const notReady = new WeakSet<ServerResponse>();
  const events = options.clusterView && new ClusterEventStream(options.clusterView, options.eventIntervalMs);

  async function route(req: IncomingMessage, res: ServerResponse, started: number): Promise<void> {
    const path = pathOf(req.url);
    if (path === HEALTH_PATH) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new HttpApiError(405, `${HEALTH_PATH} only accepts GET`, { Allow: 'GET, HEAD' });
      }
      send(res, 200, { status: 'ok', ready: backend.isReady(), ...backend.health?.() });
      return;
    }
    const guarded =
      path === CLASSIFY_PATH ||
      (path === METRICS_PATH && options.metrics) ||
      ((path === CLUSTER_PATH || path === EVENTS_PATH) && options.clusterView) ||
      (path === CALIBRATION_PLOT_PATH && options.calibrationSvg);
    if (options.apiKey && guarded && !bearerMatches(req.headers.authorization, options.apiKey)) {
      throw new HttpApiError(401, 'missing or wrong API key: send Authorization: Bearer <key>', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    if (path === METRICS_PATH && options.metrics) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new HttpApiError(405, `${METRICS_PATH} only accepts GET`, { Allow: 'GET, HEAD' });
      }
      const text = await options.metrics.text();
      res.writeHead(200, { 'content-type': options.metrics.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if ((path === CLUSTER_PATH || path === EVENTS_PATH || path === PAGE_PATH) && events && options.clusterView) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        throw new HttpApiError(405, `${path} only accepts GET`, { Allow: 'GET, HEAD' });
      }
      if (path === CLUSTER_PATH) send(res, 200, options.clusterView());
      else if (path === EVENTS_PATH) events.serve(req, res);
      else {
        // The page holds no data (that needs the API key), so it is served to anyone.
        const html = clusterPageHtml();
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(html),
          'content-security-policy':
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
        });
        res.end(html);
      }
      return;
    }
    if (path === CALIBRATION_PLOT_PATH && options.calibrationSvg) {
      const svg = await options.calibrationSvg();
      if (!svg)
        throw new HttpApiError(404, 'this deployment uses no calibration: start it with --exit-policy calibrated');
      res.writeHead(200, { 'content-type': 'image/svg+xml; charset=utf-8', 'content-length': Buffer.byteLength(svg) });
      res.end(svg);
      return;
    }
    if (path !== CLASSIFY_PATH) {
      throw new HttpApiError(404, `no endpoint at ${path.slice(0, 200)}; POST ${CLASSIFY_PATH} to classify text`);
    }
    if (req.method !== 'POST') {
      throw new HttpApiError(405, `${CLASSIFY_PATH} only accepts POST, not ${req.method}`, { Allow: 'POST' });
    }
    requireJsonContentType(req.headers['content-type']);
    // Before reading the body: a client polling an undeployed cluster should not upload its texts each time.
    if (!backend.isReady()) {
      notReady.add(res);
      throw new ServiceUnavailableError(
        'the cluster has no deployed plan yet; retry once a plan is deployed',
        NOT_READY_RETRY_AFTER_S,
      );
    }
    const request = parse(await readBody(req, limits.maxBodyBytes));
    let outcomes: ClassificationOutcome[];
    try {
      outcomes = await backend.classify(request.texts, {
        ...(request.exitThreshold !== undefined && { exitThreshold: request.exitThreshold }),
        ...(request.exitPolicy !== undefined && { exitPolicy: request.exitPolicy }),
        ...(request.odeSteps !== undefined && { odeSteps: request.odeSteps }),
        ...(request.tokenPruning !== undefined && { tokenPruning: request.tokenPruning }),
        ...(!request.truncate && { truncate: false }),
      });
    } catch (err) {
      if (err instanceof BackendUnavailableError) throw new ServiceUnavailableError(err.message, err.retryAfterSeconds);
      if (err instanceof InputTooLongError) throw new TextTooLongError(err.index, err.tokens, err.maxTokens);
      if (err instanceof TokenPruningSpecError)
        throw new InvalidRequestError(`parameters.token_pruning: ${err.message}`);
      throw err;
    }
    if (!Array.isArray(outcomes) || outcomes.length !== request.texts.length) {
      throw new Error(
        `backend returned ${Array.isArray(outcomes) ? outcomes.length : 'no'} outcomes for ${request.texts.length} texts`,
      );
    }
    const body = request.details ? detailedBody(outcomes, request.topK) : hfResults(outcomes, request.topK);
    send(res, 200, body, outcomeHeaders(outcomes, performance.now() - started));
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    // The client may have gone while the backend worked; there is nobody to answer.
    if (res.destroyed || res.writableEnded) return;
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
      ...(closing && { connection: 'close' }),
      ...headers,
    });
    res.end(payload);
  }

  function sendError(res: ServerResponse, err: unknown): void {
    if (err instanceof ClientGoneError) {
      log?.debug({ err }, 'client went away mid-request');
      res.destroy();
      return;
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HttpApiError) {
      if (err.status >= 500) log?.warn({ status: err.status, err: err.message }, 'classify request not served');
      send(
        res,
        err.status,
        {
          error: err.message,
          ...(err.clientCode && { code: err.clientCode }),
          ...(err.retryable && { retryable: true }),
        },
        { ...err.headers },
      );
      return;
    }
    log?.error({ err }, 'classify request failed');
    send(res, 500, { error: err instanceof Error ? err.message : String(err) });
  }

  const server = createServer(
    {
      headersTimeout: headersTimeout,
      requestTimeout: receiveTimeout,
      // Node checks those timeouts only this often (30 s by default), which would stretch a 15 s limit to 45 s.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
    },
    (req, res) => {
      const started = performance.now();
      // Aborted clients show up as ClientGoneError in readBody or as a destroyed response; never as a crash.
      req.on('error', () => {});
      res.on('error', (err) => log?.debug({ err }, 'response stream error'));
      const metrics = options.metrics;
      if (metrics && pathOf(req.url) === CLASSIFY_PATH) {
        res.on('finish', () =>
          metrics.observeHttpResponse(res.statusCode, notReady.has(res) ? 'not_ready' : 'unavailable'),
        );
      }
      route(req, res, started)
        .catch((err: unknown) => sendError(res, err))
        .catch((err: unknown) => {
          log?.error({ err }, 'could not send an error response');
          res.destroy();
        });
    },
  );

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new HttpApiStartError(`HTTP API could not listen on ${host}:${options.port}: ${err.message}`));
    server.once('error', onError);
    server.listen(options.port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log?.error({ err }, 'HTTP API server error'));

  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log?.info({ url: `${url}${CLASSIFY_PATH}` }, 'HTTP API listening');
  return {
    port,
    url,
    close() {
      events?.closeAll();
      closing ??= new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
        server.close((err) => {
          clearTimeout(force);
          if (err) reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** The path without query string or trailing slash; the query carries nothing the API uses. */
function pathOf(rawUrl: string | undefined): string {
  const path = (rawUrl ?? '/').split('?', 1)[0]!;
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * Collects the body up to maxBytes. Over the limit it stops reading and rejects at once, so the
 * 413 goes out without buffering (or even waiting for) the rest; Connection: close then drops the socket.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(new PayloadTooLargeError(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.pause();
      chunks.length = 0;
      finish(new PayloadTooLargeError(maxBytes));
    };
    const onEnd = () => finish();
    const onError = (err: Error) =>
      finish(new ClientGoneError(`client connection failed while sending the body: ${err.message}`));
    const onClose = () => finish(new ClientGoneError('client closed the connection before sending the whole body'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}
