import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';

import { InferenceClient } from '@huggingface/inference';
import pino from 'pino';

import {
  BackendUnavailableError,
  startHttpApi,
  type HttpApi,
  type HttpApiOptions,
  type LabelScore,
} from '../coordinator/api/index.js';
import { expectedRanking, FakeBackend, outcomeFor } from './helpers/fake-backend.js';

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

describe('HTTP API (Hugging Face text-classification compatible)', function () {
  let backend: FakeBackend;
  let api: HttpApi;
  let logLines: string[];

  async function start(options: Partial<HttpApiOptions> = {}): Promise<void> {
    await api?.close();
    const sink = new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) });
    api = await startHttpApi(backend, { port: 0, logger: pino({ level: 'debug' }, sink), ...options });
  }

  async function call(path: string, init: RequestInit = {}): Promise<Reply> {
    const res = await fetch(`${api.url}${path}`, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // leave non-JSON as text so the assertion shows it
    }
    return { status: res.status, headers: res.headers, body };
  }

  function classify(body: unknown): Promise<Reply> {
    return call('/v1/classify', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  beforeEach(async function () {
    backend = new FakeBackend();
    logLines = [];
    await start();
  });

  afterEach(async function () {
    await api.close();
  });

  describe('classification', function () {
    it('answers a single string with one inner list of every label, ranked by score', async function () {
      const text = 'this film was great'; // 19 chars: p = 0.9
      const reply = await classify({ inputs: text });
      assert.equal(reply.status, 200);
      assert.match(reply.headers.get('content-type')!, /^application\/json/);
      assert.deepEqual(reply.body, [expectedRanking(text)]);
      assert.deepEqual(
        reply.body[0].map((s: LabelScore) => s.label),
        ['POSITIVE', 'NEUTRAL', 'NEGATIVE'],
      );
      assert.deepEqual(backend.calls, [{ texts: [text], options: {} }]);
    });

    it('answers a list with one inner list per text, in input order', async function () {
      const texts = ['bad', 'a fine and decent movie', 'meh!'];
      const reply = await classify({ inputs: texts });
      assert.equal(reply.status, 200);
      assert.deepEqual(
        reply.body,
        texts.map((t) => expectedRanking(t)),
      );
      assert.deepEqual(backend.calls[0]!.texts, texts);
    });

    it('answers a sentence pair ({"text", "text_pair"}) and a list mixing pairs and texts, one inner list each', async function () {
      const pair = { text: 'a man is eating', text_pair: 'someone eats' };
      const reply = await classify({ inputs: pair });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, [expectedRanking('a man is eating || someone eats')]);
      assert.deepEqual(backend.calls[0]!.texts, [{ text: pair.text, textPair: pair.text_pair }]);
      // Without text_pair, an object is a single text (as transformers' pipeline reads it).
      const mixed = await classify({ inputs: [pair, 'bad', { text: 'meh!' }] });
      assert.equal(mixed.status, 200);
      assert.deepEqual(
        mixed.body,
        ['a man is eating || someone eats', 'bad', 'meh!'].map((t) => expectedRanking(t)),
      );
      assert.deepEqual(backend.calls[1]!.texts, [{ text: pair.text, textPair: pair.text_pair }, 'bad', 'meh!']);
    });

    it('truncates every inner list to the top_k best labels', async function () {
      const texts = ['bad', 'a fine and decent movie'];
      const reply = await classify({ inputs: texts, parameters: { top_k: 1 } });
      assert.equal(reply.status, 200);
      assert.deepEqual(
        reply.body,
        texts.map((t) => expectedRanking(t, 1)),
      );
      const two = await classify({ inputs: 'bad', parameters: { top_k: 2, function_to_apply: 'softmax' } });
      assert.deepEqual(two.body, [expectedRanking('bad', 2)]);
    });

    it('passes exit_threshold to the backend as exitThreshold, and nothing when it is absent', async function () {
      await classify({ inputs: 'x', parameters: { exit_threshold: 0.8 } });
      await classify({ inputs: 'x', parameters: { exit_threshold: 0 } });
      await classify({ inputs: 'x' });
      assert.deepEqual(
        backend.calls.map((c) => c.options),
        [{ exitThreshold: 0.8 }, { exitThreshold: 0 }, {}],
      );
    });

    it('returns results plus per-text exit layer, agents, timings, hops and logits when details is true', async function () {
      const texts = ['bad', 'a fine and decent movie'];
      const reply = await classify({ inputs: texts, parameters: { details: true, top_k: 2 } });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, {
        results: texts.map((t) => expectedRanking(t, 2)),
        details: texts.map((t) => {
          const { exitLayer, early, agents, totalMs, hops, logits } = outcomeFor(t);
          return {
            exitLayer,
            early,
            degraded: false,
            truncated: false,
            tokensDropped: 0,
            agents,
            totalMs,
            hops,
            logits,
          };
        }),
      });
    });

    it('reports exit layer, early exit, agents and Server-Timing in headers', async function () {
      const single = await classify({ inputs: 'a fine and decent movie' }); // 23 chars: layer 6, two agents
      assert.equal(single.headers.get('x-edgerelay-exit-layer'), '6');
      assert.equal(single.headers.get('x-edgerelay-early-exit'), 'false');
      assert.equal(single.headers.get('x-edgerelay-agents'), 'pi-a>pi-b');
      assert.equal(single.headers.get('server-timing'), 'total;dur=33, stage0-pi-a;dur=2.5, stage1-pi-b;dur=3.5');
      assert.ok(Number(single.headers.get('x-edgerelay-request-ms')) >= 0);

      const batch = await classify({ inputs: ['bad', 'a fine and decent movie'] }); // 'bad': layer 4
      assert.equal(batch.headers.get('x-edgerelay-exit-layer'), '4,6');
      assert.equal(batch.headers.get('x-edgerelay-early-exit'), 'true,false');
      assert.deepEqual(JSON.parse(batch.headers.get('x-edgerelay-agents')!), [
        ['pi-a', 'pi-b'],
        ['pi-a', 'pi-b'],
      ]);
      // Server-Timing describes the first text
      assert.match(batch.headers.get('server-timing')!, /^total;dur=13, stage0-pi-a;dur=2\.5/);
    });
  });

  describe('the real @huggingface/inference client', function () {
    const realFetch = globalThis.fetch;
    let sent: { url: string; method: string; body: string }[];

    beforeEach(function () {
      sent = [];
      // Records everything the client sends, and proves it needs nothing but our server.
      globalThis.fetch = async (input, init) => {
        const url = input instanceof Request ? input.url : String(input);
        if (!url.startsWith(api.url)) throw new Error(`unexpected outside request to ${url}`);
        sent.push({ url, method: init?.method ?? 'GET', body: String(init?.body) });
        return realFetch(input, init);
      };
    });

    afterEach(function () {
      globalThis.fetch = realFetch;
    });

    it('gets back the fake backend scores when pointed at /v1/classify via endpointUrl', async function () {
      const endpointUrl = `${api.url}/v1/classify`;
      const client = new InferenceClient(undefined, { endpointUrl });
      const text = 'loved every minute';
      const output = await client.textClassification({ inputs: text, parameters: { top_k: 2, exit_threshold: 0.75 } });

      assert.deepEqual(output, expectedRanking(text, 2));
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.url, endpointUrl);
      assert.equal(sent[0]!.method, 'POST');
      assert.deepEqual(JSON.parse(sent[0]!.body), { inputs: text, parameters: { top_k: 2, exit_threshold: 0.75 } });
      assert.deepEqual(backend.calls, [{ texts: [text], options: { exitThreshold: 0.75 } }]);
    });

    it('surfaces our 400 error message through the client', async function () {
      const client = new InferenceClient(undefined, { endpointUrl: `${api.url}/v1/classify` });
      await assert.rejects(client.textClassification({ inputs: 'x'.repeat(10_001) }), /10000-character limit/);
      assert.equal(backend.calls.length, 0);
    });
  });

  describe('bad requests', function () {
    const cases: [name: string, body: unknown, error: RegExp][] = [
      ['invalid JSON', '{"inputs": "unterminated', /not valid JSON/],
      ['an empty body', '', /body is empty/],
      ['a body that is not an object', '["text"]', /must be a JSON object/],
      ['missing inputs', { parameters: { top_k: 1 } }, /^inputs: missing/],
      ['an empty inputs list', { inputs: [] }, /^inputs: is an empty list/],
      ['a non-string input', { inputs: ['ok', 42] }, /^inputs\[1\]: must be a string/],
      [
        'a pair whose text_pair is not a string',
        { inputs: { text: 'a', text_pair: 5 } },
        /^inputs\[0\]\.text_pair: must be a string/,
      ],
      ['a pair without text', { inputs: [{ text_pair: 'b' }] }, /^inputs\[0\]: has no "text"/],
      ['a pair with a misspelt key', { inputs: { text: 'a', textPair: 'b' } }, /^inputs\[0\]: unknown key.*"textPair"/],
      ['a pair given as a list', { inputs: [['a', 'b']] }, /^inputs\[0\]: must be a string or \{"text"/],
      [
        'an over-long second text',
        { inputs: { text: 'a', text_pair: 'x'.repeat(10_001) } },
        /^inputs\[0\]\.text_pair: .*10000-character limit/,
      ],
      [
        'only_first truncation of a pair',
        { inputs: { text: 'a', text_pair: 'b' }, parameters: { truncation: 'only_first' } },
        /^parameters\.truncation: "only_first" is not implemented for sentence pairs/,
      ],
      ['65 inputs', { inputs: Array.from({ length: 65 }, () => 'hi') }, /^inputs: has 65 texts; at most 64/],
      [
        'an over-long text',
        { inputs: ['ok', 'x'.repeat(10_001)] },
        /^inputs\[1\]: .*10001 characters .*10000-character limit/,
      ],
      ['top_k of 0', { inputs: 'a', parameters: { top_k: 0 } }, /^parameters\.top_k: must be a positive integer/],
      [
        'function_to_apply sigmoid',
        { inputs: 'a', parameters: { function_to_apply: 'sigmoid' } },
        /"sigmoid" is not supported/,
      ],
      [
        'exit_threshold above 1',
        { inputs: 'a', parameters: { exit_threshold: 1.5 } },
        /^parameters\.exit_threshold: must be between 0 and 1/,
      ],
      [
        'a misspelt parameter',
        { inputs: 'a', parameters: { exit_treshold: 0.5 } },
        /unknown parameter.*"exit_treshold"/,
      ],
    ];
    for (const [name, body, error] of cases) {
      it(`rejects ${name} with 400 and a JSON error naming the problem`, async function () {
        const reply = await classify(body);
        assert.equal(reply.status, 400);
        assert.match(reply.body.error, error);
        assert.equal(backend.calls.length, 0);
      });
    }

    it('accepts exactly the limits: 64 texts of 10000 characters', async function () {
      const reply = await classify({ inputs: Array.from({ length: 64 }, () => 'y'.repeat(10_000)) });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.length, 64);
    });

    it('applies configured limits instead of the defaults', async function () {
      await start({ limits: { maxBatchSize: 2, maxTextChars: 5 } });
      assert.match((await classify({ inputs: ['a', 'b', 'c'] })).body.error, /at most 2/);
      assert.match((await classify({ inputs: 'sixsix' })).body.error, /5-character limit/);
      assert.equal((await classify({ inputs: ['a', 'b'] })).status, 200);
    });

    it('answers other methods on /v1/classify with 405 and an Allow header', async function () {
      const reply = await call('/v1/classify');
      assert.equal(reply.status, 405);
      assert.equal(reply.headers.get('allow'), 'POST');
      assert.match(reply.body.error, /only accepts POST/);
    });

    it('answers unknown paths with a JSON 404', async function () {
      const reply = await call('/v2/classify', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"inputs":"hi"}',
      });
      assert.equal(reply.status, 404);
      assert.match(reply.body.error, /no endpoint at \/v2\/classify/);
      assert.equal(backend.calls.length, 0);
    });
  });

  describe('over-size bodies', function () {
    /**
     * Streams a chunked body that never ends and resolves with the response, so a 413 can only
     * arrive if the server stops reading without waiting for the whole body.
     */
    function streamUntilAnswered(headers: Record<string, string> = {}) {
      return new Promise<{
        status: number;
        body: any;
        connection: string | undefined;
        sentBytes: number;
        socketClosed: Promise<void>;
      }>((resolve, reject) => {
        let sentBytes = 0;
        let answered = false;
        const req = httpRequest(`${api.url}/v1/classify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
        });
        const socketClosed = new Promise<void>((done) => req.on('socket', (s) => s.on('close', () => done())));
        req.on('error', (err) => answered || reject(err)); // a reset after the answer is expected
        req.on('response', (res) => {
          answered = true;
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              body: JSON.parse(text),
              connection: res.headers.connection,
              sentBytes,
              socketClosed,
            }),
          );
        });
        const chunk = Buffer.alloc(64 * 1024, 'a');
        req.write('{"inputs": "');
        const pump = () => {
          if (answered || req.destroyed) return;
          if (sentBytes > 16 * 1024 * 1024) {
            req.destroy();
            return reject(new Error('server kept reading past 16 MiB without answering'));
          }
          sentBytes += chunk.length;
          if (req.write(chunk)) setImmediate(pump);
          else req.once('drain', pump);
        };
        pump();
      });
    }

    it('answers 413 and closes the connection without waiting for the rest of a chunked body', async function () {
      this.timeout(10_000); // a server that waits for the body never answers: fail fast
      const reply = await streamUntilAnswered();
      assert.equal(reply.status, 413);
      assert.match(reply.body.error, /larger than the 1048576-byte limit/);
      assert.equal(reply.connection, 'close');
      await reply.socketClosed;
      assert.equal(backend.calls.length, 0);
      // the server is still fine
      assert.equal((await classify({ inputs: 'ok' })).status, 200);
    });

    it('answers 413 from the Content-Length alone, before any of the body arrives', async function () {
      this.timeout(10_000); // a server that waits for the body never answers: fail fast
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${api.url}/v1/classify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) },
        });
        req.on('response', (res) => (resolve(res.statusCode!), res.resume(), req.destroy()));
        req.on('error', reject);
        req.flushHeaders(); // headers only; the body is never sent
      });
      assert.equal(status, 413);
    });

    it('honours a smaller configured body limit', async function () {
      await start({ limits: { maxBodyBytes: 1000 } });
      const reply = await classify({ inputs: 'z'.repeat(2000) });
      assert.equal(reply.status, 413);
      assert.match(reply.body.error, /1000-byte limit/);
    });
  });

  describe('backend failures', function () {
    it('answers 503 with Retry-After while no plan is deployed, without calling the backend', async function () {
      backend.ready = false;
      const reply = await classify({ inputs: 'hello' });
      assert.equal(reply.status, 503);
      assert.ok(Number(reply.headers.get('retry-after')) >= 1);
      assert.match(reply.body.error, /no deployed plan/);
      assert.equal(reply.body.retryable, true);
      assert.equal(backend.calls.length, 0);
    });

    it('maps BackendUnavailableError to 503 with its Retry-After', async function () {
      backend.failure = new BackendUnavailableError('stage 1 has no live agent', 7);
      const reply = await classify({ inputs: 'hello' });
      assert.equal(reply.status, 503);
      assert.equal(reply.headers.get('retry-after'), '7');
      assert.deepEqual(reply.body, { error: 'stage 1 has no live agent', retryable: true });
    });

    it('maps any other backend error to 500, logs it, and keeps serving', async function () {
      backend.failure = new Error('tensor shape mismatch');
      const reply = await classify({ inputs: 'hello' });
      assert.equal(reply.status, 500);
      assert.deepEqual(reply.body, { error: 'tensor shape mismatch' });
      assert.ok(
        logLines.some((l) => l.includes('tensor shape mismatch') && JSON.parse(l).level === 50),
        'error was logged',
      );

      backend.failure = undefined;
      const next = await classify({ inputs: 'hello' });
      assert.equal(next.status, 200);
      assert.deepEqual(next.body, [expectedRanking('hello')]);
    });

    it('survives a client that disconnects while the backend is working', async function () {
      let release!: () => void;
      backend.gate = new Promise((r) => (release = r));
      const controller = new AbortController();
      const pending = classify({ inputs: 'hello' });
      void pending.catch(() => {});
      const aborted = fetch(`${api.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"inputs":"bye"}',
        signal: controller.signal,
      });
      while (backend.calls.length < 2) await new Promise((r) => setTimeout(r, 5));
      controller.abort();
      await assert.rejects(aborted);
      release();
      assert.equal((await pending).status, 200);
      backend.gate = undefined;
      assert.equal((await classify({ inputs: 'again' })).status, 200);
    });
  });

  it('reports readiness alone on GET /healthz when the backend has no health()', async function () {
    assert.deepEqual((await call('/healthz')).body, { status: 'ok', ready: true });
    backend.ready = false;
    const reply = await call('/healthz');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { status: 'ok', ready: false });
  });

  it('reports the active plan version and connected agents on GET /healthz', async function () {
    backend.health = () => ({ planVersion: 3, agentsConnected: 2 });
    assert.deepEqual((await call('/healthz')).body, { status: 'ok', ready: true, planVersion: 3, agentsConnected: 2 });
    backend.ready = false;
    backend.health = () => ({ planVersion: null, agentsConnected: 1 });
    assert.deepEqual((await call('/healthz')).body, {
      status: 'ok',
      ready: false,
      planVersion: null,
      agentsConnected: 1,
    });
  });
});
