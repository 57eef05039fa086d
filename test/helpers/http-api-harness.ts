import { Writable } from 'node:stream';
import pino from 'pino';
import { startHttpApi, type HttpApi, type HttpApiOptions } from '../../coordinator/api/index.js';
import { FakeBackend } from './fake-backend.js';

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * The HTTP API on a free port in front of a FakeBackend, fresh for every test of the suite that calls this
 * (http-api*.test.ts): the backend, the API, its log lines, and calls that read any reply.
 */
export function httpApiHarness() {
  const h = {
    backend: undefined as unknown as FakeBackend,
    api: undefined as unknown as HttpApi,
    logLines: [] as string[],

    async start(options: Partial<HttpApiOptions> = {}): Promise<void> {
      await h.api?.close();
      const sink = new Writable({ write: (chunk, _enc, done) => (h.logLines.push(String(chunk)), done()) });
      h.api = await startHttpApi(h.backend, { port: 0, logger: pino({ level: 'debug' }, sink), ...options });
    },

    async call(path: string, init: RequestInit = {}): Promise<Reply> {
      const res = await fetch(`${h.api.url}${path}`, init);
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // leave non-JSON as text so the assertion shows it
      }
      return { status: res.status, headers: res.headers, body };
    },

    classify(body: unknown): Promise<Reply> {
      return h.call('/v1/classify', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
  };

  beforeEach(async function () {
    h.backend = new FakeBackend();
    h.logLines = [];
    await h.start();
  });

  afterEach(async function () {
    await h.api.close();
  });

  return h;
}
