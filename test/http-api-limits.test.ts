import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';

import { httpApiHarness } from './helpers/http-api-harness.js';

/** What the HTTP API refuses, and how: malformed requests, over-limit inputs, over-size bodies. */
describe('HTTP API: bad requests and over-size bodies', function () {
  const h = httpApiHarness();

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
        const reply = await h.classify(body);
        assert.equal(reply.status, 400);
        assert.match(reply.body.error, error);
        assert.equal(h.backend.calls.length, 0);
      });
    }

    it('accepts exactly the limits: 64 texts of 10000 characters', async function () {
      const reply = await h.classify({ inputs: Array.from({ length: 64 }, () => 'y'.repeat(10_000)) });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.length, 64);
    });

    it('applies configured limits instead of the defaults', async function () {
      await h.start({ limits: { maxBatchSize: 2, maxTextChars: 5 } });
      assert.match((await h.classify({ inputs: ['a', 'b', 'c'] })).body.error, /at most 2/);
      assert.match((await h.classify({ inputs: 'sixsix' })).body.error, /5-character limit/);
      assert.equal((await h.classify({ inputs: ['a', 'b'] })).status, 200);
    });

    it('answers other methods on /v1/classify with 405 and an Allow header', async function () {
      const reply = await h.call('/v1/classify');
      assert.equal(reply.status, 405);
      assert.equal(reply.headers.get('allow'), 'POST');
      assert.match(reply.body.error, /only accepts POST/);
    });

    it('answers unknown paths with a JSON 404', async function () {
      const reply = await h.call('/v2/classify', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"inputs":"hi"}',
      });
      assert.equal(reply.status, 404);
      assert.match(reply.body.error, /no endpoint at \/v2\/classify/);
      assert.equal(h.backend.calls.length, 0);
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
        const req = httpRequest(`${h.api.url}/v1/classify`, {
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
      assert.equal(h.backend.calls.length, 0);
      // the server is still fine
      assert.equal((await h.classify({ inputs: 'ok' })).status, 200);
    });

    it('answers 413 from the Content-Length alone, before any of the body arrives', async function () {
      this.timeout(10_000); // a server that waits for the body never answers: fail fast
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${h.api.url}/v1/classify`, {
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
      await h.start({ limits: { maxBodyBytes: 1000 } });
      const reply = await h.classify({ inputs: 'z'.repeat(2000) });
      assert.equal(reply.status, 413);
      assert.match(reply.body.error, /1000-byte limit/);
    });
  });
});
