import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

import { startHttpApi, HttpApiStartError, type HttpApi, type HttpApiOptions } from '../coordinator/api/index.js';
import { expectedRanking, FakeBackend } from './helpers/fake-backend.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** One request over node:http, so the test decides every header (fetch would add a Content-Type). */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep non-JSON bodies as text
        }
        resolve({ status: res.statusCode!, headers: res.headers, body: parsed });
      });
    });
    req.end(body);
  });
}

/**
 * Opens a raw socket, writes `head` then `trickle` one byte every `everyMs`, and resolves with what
 * the server wrote and when the connection closed; rejects if the server never cuts it.
 */
function trickle(port: number, head: string, trickleBytes: string, everyMs: number, giveUpMs: number) {
  return new Promise<{ received: string; closedAfterMs: number; bytesTrickled: number }>((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < trickleBytes.length && !socket.destroyed) socket.write(trickleBytes[sent++]!);
    }, everyMs);
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server was still reading after ${giveUpMs} ms (${sent} bytes trickled)`));
    }, giveUpMs);
    socket.on('connect', () => socket.write(head));
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => {}); // a reset after the 408 is fine
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ received, closedAfterMs: Date.now() - started, bytesTrickled: sent });
    });
  });
}

describe('HTTP API hardening: content type, CORS, limits, timeouts, truncation', function () {
  let backend: FakeBackend;
  let api: HttpApi;

  async function start(options: Partial<HttpApiOptions> = {}): Promise<void> {
    await api?.close();
    api = await startHttpApi(backend, { port: 0, ...options });
  }

  const classify = (body: unknown, contentType = 'application/json') =>
    send(`${api.url}/v1/classify`, 'POST', { 'content-type': contentType }, JSON.stringify(body));

  beforeEach(async function () {
    backend = new FakeBackend();
    await start();
  });

  afterEach(async function () {
    await api.close();
  });

  describe('Content-Type', function () {
    for (const type of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      'application/jsonp',
    ]) {
      it(`refuses a classify POST sent as ${type} with 415, before the backend sees it`, async function () {
        const reply = await classify({ inputs: 'hi' }, type);
        assert.equal(reply.status, 415);
        assert.equal(reply.body.code, 'unsupported_media_type');
        assert.match(reply.body.error, /Content-Type: application\/json/);
        assert.equal(backend.calls.length, 0);
      });
    }

    it('refuses a classify POST without a Content-Type with 415', async function () {
      const reply = await send(`${api.url}/v1/classify`, 'POST', {}, '{"inputs":"hi"}');
      assert.equal(reply.status, 415);
      assert.match(reply.body.error, /no Content-Type/);
      assert.equal(backend.calls.length, 0);
    });

    for (const type of ['application/json', 'Application/JSON; charset=UTF-8', 'application/json;charset="utf-8"']) {
      it(`accepts ${type}`, async function () {
        const reply = await classify({ inputs: 'hi' }, type);
        assert.equal(reply.status, 200);
        assert.deepEqual(reply.body, [expectedRanking('hi')]);
      });
    }
  });

  describe('CORS', function () {
    it('grants a cross-origin preflight nothing: no Access-Control-Allow-* headers and no 2xx', async function () {
      const reply = await send(`${api.url}/v1/classify`, 'OPTIONS', {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      });
      assert.ok(reply.status >= 400, `preflight got ${reply.status}`);
      assert.deepEqual(
        Object.keys(reply.headers).filter((h) => h.startsWith('access-control-')),
        [],
      );
      assert.equal(backend.calls.length, 0);
    });

    it('sends no CORS headers on an answer, so a browser keeps it from other origins', async function () {
      const reply = await send(
        `${api.url}/v1/classify`,
        'POST',
        { origin: 'https://evil.example', 'content-type': 'application/json' },
        '{"inputs":"hi"}',
      );
      assert.equal(reply.status, 200);
      assert.deepEqual(
        Object.keys(reply.headers).filter((h) => h.startsWith('access-control-')),
        [],
      );
    });
  });

  describe('text length in code points', function () {
    it('accepts 10000 emoji (20000 UTF-16 units) and refuses 10001, counting code points in the message', async function () {
      const ok = await classify({ inputs: '😀'.repeat(10_000) });
      assert.equal(ok.status, 200);
      const refused = await classify({ inputs: ['ok', '😀'.repeat(10_001)] });
      assert.equal(refused.status, 400);
      assert.match(refused.body.error, /^inputs\[1\]: text of 10001 characters is over the 10000-character limit/);
    });

    it('counts a configured limit in code points too', async function () {
      await start({ limits: { maxTextChars: 5 } });
      assert.equal((await classify({ inputs: 'é😀a😀b' })).status, 200);
      assert.match(
        (await classify({ inputs: '😀😀😀😀😀😀' })).body.error,
        /text of 6 characters is over the 5-character limit/,
      );
    });
  });

  describe('receive timeouts', function () {
    const head = (contentLength: number) =>
      `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n`;

    it('cuts a body that trickles in for longer than receiveTimeoutMs with 408 and closes the connection', async function () {
      this.timeout(10_000);
      await start({ headersTimeoutMs: 300, receiveTimeoutMs: 600 });
      const body = JSON.stringify({ inputs: 'x'.repeat(200) });
      const result = await trickle(api.port, head(body.length), body, 40, 5000);
      assert.match(result.received, /^HTTP\/1\.1 408 /);
      assert.ok(result.bytesTrickled < body.length, 'the body should not have been read to the end');
      assert.ok(result.closedAfterMs >= 550 && result.closedAfterMs < 2500, `closed after ${result.closedAfterMs} ms`);
      assert.equal(backend.calls.length, 0);
      assert.equal((await classify({ inputs: 'still serving' })).status, 200);
    });

    it('cuts headers that trickle in for longer than headersTimeoutMs', async function () {
      this.timeout(10_000);
      await start({ headersTimeoutMs: 300, receiveTimeoutMs: 5000 });
      const headers = `X-Slow: ${'y'.repeat(200)}\r\n\r\n`;
      const result = await trickle(api.port, 'POST /v1/classify HTTP/1.1\r\nHost: x\r\n', headers, 40, 4000);
      assert.match(result.received, /^HTTP\/1\.1 408 /);
      assert.ok(result.closedAfterMs < 2000, `closed after ${result.closedAfterMs} ms`);
    });

    it('does not count the time the backend takes: a slow classification still answers', async function () {
      this.timeout(10_000);
      await start({ headersTimeoutMs: 200, receiveTimeoutMs: 300 });
      backend.gate = new Promise((r) => setTimeout(r, 1000));
      const reply = await classify({ inputs: 'slow but fine' });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, [expectedRanking('slow but fine')]);
    });

    it('refuses at start a headers timeout longer than the whole-request timeout', async function () {
      await assert.rejects(
        startHttpApi(backend, { port: 0, headersTimeoutMs: 2000, receiveTimeoutMs: 1000 }),
        HttpApiStartError,
      );
    });
  });

  describe('truncation', function () {
    it('says how many texts were cut in X-Edgerelay-Truncated, and by how much in details', async function () {
      backend.maxTokens = 5;
      const reply = await classify({ inputs: ['short', 'much too long'], parameters: { details: true } });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['x-edgerelay-truncated'], '1');
      assert.deepEqual(
        reply.body.details.map((d: { truncated: boolean; tokensDropped: number }) => [d.truncated, d.tokensDropped]),
        [
          [false, 0],
          [true, 8],
        ],
      );
      const fits = await classify({ inputs: 'fits' });
      assert.equal(fits.headers['x-edgerelay-truncated'], '0');
    });

    for (const value of ['do_not_truncate', false, 'only_second'] as const) {
      it(`refuses an over-long text with 400 naming the token limit when truncation is ${JSON.stringify(value)}`, async function () {
        backend.maxTokens = 5;
        const reply = await classify({ inputs: ['short', 'much too long'], parameters: { truncation: value } });
        assert.equal(reply.status, 400);
        assert.equal(reply.body.code, 'input_too_long');
        assert.match(reply.body.error, /^inputs\[1\]: the text is 13 tokens long .* over the model's 5-token limit/);
        assert.equal(backend.calls[0]!.options.truncate, false);
      });
    }

    for (const value of ['longest_first', 'only_first', true] as const) {
      it(`cuts an over-long text when truncation is ${JSON.stringify(value)}`, async function () {
        backend.maxTokens = 5;
        const reply = await classify({ inputs: 'much too long', parameters: { truncation: value } });
        assert.equal(reply.status, 200);
        assert.equal(reply.headers['x-edgerelay-truncated'], '1');
        assert.equal(backend.calls[0]!.options.truncate, undefined);
      });
    }

    it('refuses an unknown truncation strategy with 400 listing the accepted ones', async function () {
      const reply = await classify({ inputs: 'a', parameters: { truncation: 'sideways' } });
      assert.equal(reply.status, 400);
      assert.match(
        reply.body.error,
        /^parameters\.truncation: must be true, false or one of "do_not_truncate", "longest_first"/,
      );
      assert.equal(backend.calls.length, 0);
    });
  });
});
