import assert from 'node:assert/strict';

import { InferenceClient } from '@huggingface/inference';

import { BackendUnavailableError, type LabelScore } from '../coordinator/api/index.js';
import { expectedRanking, outcomeFor } from './helpers/fake-backend.js';
import { httpApiHarness } from './helpers/http-api-harness.js';

describe('HTTP API (Hugging Face text-classification compatible)', function () {
  const h = httpApiHarness();

  describe('classification', function () {
    it('answers a single string with one inner list of every label, ranked by score', async function () {
      const text = 'this film was great'; // 19 chars: p = 0.9
      const reply = await h.classify({ inputs: text });
      assert.equal(reply.status, 200);
      assert.match(reply.headers.get('content-type')!, /^application\/json/);
      assert.deepEqual(reply.body, [expectedRanking(text)]);
      assert.deepEqual(
        reply.body[0].map((s: LabelScore) => s.label),
        ['POSITIVE', 'NEUTRAL', 'NEGATIVE'],
      );
      assert.deepEqual(h.backend.calls, [{ texts: [text], options: {} }]);
    });

    it('answers a list with one inner list per text, in input order', async function () {
      const texts = ['bad', 'a fine and decent movie', 'meh!'];
      const reply = await h.classify({ inputs: texts });
      assert.equal(reply.status, 200);
      assert.deepEqual(
        reply.body,
        texts.map((t) => expectedRanking(t)),
      );
      assert.deepEqual(h.backend.calls[0]!.texts, texts);
    });

    it('answers a sentence pair ({"text", "text_pair"}) and a list mixing pairs and texts, one inner list each', async function () {
      const pair = { text: 'a man is eating', text_pair: 'someone eats' };
      const reply = await h.classify({ inputs: pair });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, [expectedRanking('a man is eating || someone eats')]);
      assert.deepEqual(h.backend.calls[0]!.texts, [{ text: pair.text, textPair: pair.text_pair }]);
      // Without text_pair, an object is a single text (as transformers' pipeline reads it).
      const mixed = await h.classify({ inputs: [pair, 'bad', { text: 'meh!' }] });
      assert.equal(mixed.status, 200);
      assert.deepEqual(
        mixed.body,
        ['a man is eating || someone eats', 'bad', 'meh!'].map((t) => expectedRanking(t)),
      );
      assert.deepEqual(h.backend.calls[1]!.texts, [{ text: pair.text, textPair: pair.text_pair }, 'bad', 'meh!']);
    });

    it('truncates every inner list to the top_k best labels', async function () {
      const texts = ['bad', 'a fine and decent movie'];
      const reply = await h.classify({ inputs: texts, parameters: { top_k: 1 } });
      assert.equal(reply.status, 200);
      assert.deepEqual(
        reply.body,
        texts.map((t) => expectedRanking(t, 1)),
      );
      const two = await h.classify({ inputs: 'bad', parameters: { top_k: 2, function_to_apply: 'softmax' } });
      assert.deepEqual(two.body, [expectedRanking('bad', 2)]);
    });

    it('passes exit_threshold to the backend as exitThreshold, and nothing when it is absent', async function () {
      await h.classify({ inputs: 'x', parameters: { exit_threshold: 0.8 } });
      await h.classify({ inputs: 'x', parameters: { exit_threshold: 0 } });
      await h.classify({ inputs: 'x' });
      assert.deepEqual(
        h.backend.calls.map((c) => c.options),
        [{ exitThreshold: 0.8 }, { exitThreshold: 0 }, {}],
      );
    });

    it('returns results plus per-text exit layer, agents, timings, hops and logits when details is true', async function () {
      const texts = ['bad', 'a fine and decent movie'];
      const reply = await h.classify({ inputs: texts, parameters: { details: true, top_k: 2 } });
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
      const single = await h.classify({ inputs: 'a fine and decent movie' }); // 23 chars: layer 6, two agents
      assert.equal(single.headers.get('x-edgerelay-exit-layer'), '6');
      assert.equal(single.headers.get('x-edgerelay-early-exit'), 'false');
      assert.equal(single.headers.get('x-edgerelay-agents'), 'pi-a>pi-b');
      assert.equal(single.headers.get('server-timing'), 'total;dur=33, stage0-pi-a;dur=2.5, stage1-pi-b;dur=3.5');
      assert.ok(Number(single.headers.get('x-edgerelay-request-ms')) >= 0);

      const batch = await h.classify({ inputs: ['bad', 'a fine and decent movie'] }); // 'bad': layer 4
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
        if (!url.startsWith(h.api.url)) throw new Error(`unexpected outside request to ${url}`);
        sent.push({ url, method: init?.method ?? 'GET', body: String(init?.body) });
        return realFetch(input, init);
      };
    });

    afterEach(function () {
      globalThis.fetch = realFetch;
    });

    it('gets back the fake backend scores when pointed at /v1/classify via endpointUrl', async function () {
      const endpointUrl = `${h.api.url}/v1/classify`;
      const client = new InferenceClient(undefined, { endpointUrl });
      const text = 'loved every minute';
      const output = await client.textClassification({ inputs: text, parameters: { top_k: 2, exit_threshold: 0.75 } });

      assert.deepEqual(output, expectedRanking(text, 2));
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.url, endpointUrl);
      assert.equal(sent[0]!.method, 'POST');
      assert.deepEqual(JSON.parse(sent[0]!.body), { inputs: text, parameters: { top_k: 2, exit_threshold: 0.75 } });
      assert.deepEqual(h.backend.calls, [{ texts: [text], options: { exitThreshold: 0.75 } }]);
    });

    it('surfaces our 400 error message through the client', async function () {
      const client = new InferenceClient(undefined, { endpointUrl: `${h.api.url}/v1/classify` });
      await assert.rejects(client.textClassification({ inputs: 'x'.repeat(10_001) }), /10000-character limit/);
      assert.equal(h.backend.calls.length, 0);
    });
  });

  describe('backend failures', function () {
    it('answers 503 with Retry-After while no plan is deployed, without calling the backend', async function () {
      h.backend.ready = false;
      const reply = await h.classify({ inputs: 'hello' });
      assert.equal(reply.status, 503);
      assert.ok(Number(reply.headers.get('retry-after')) >= 1);
      assert.match(reply.body.error, /no deployed plan/);
      assert.equal(reply.body.retryable, true);
      assert.equal(h.backend.calls.length, 0);
    });

    it('maps BackendUnavailableError to 503 with its Retry-After', async function () {
      h.backend.failure = new BackendUnavailableError('stage 1 has no live agent', 7);
      const reply = await h.classify({ inputs: 'hello' });
      assert.equal(reply.status, 503);
      assert.equal(reply.headers.get('retry-after'), '7');
      assert.deepEqual(reply.body, { error: 'stage 1 has no live agent', retryable: true });
    });

    it('maps any other backend error to 500, logs it, and keeps serving', async function () {
      h.backend.failure = new Error('tensor shape mismatch');
      const reply = await h.classify({ inputs: 'hello' });
      assert.equal(reply.status, 500);
      assert.deepEqual(reply.body, { error: 'tensor shape mismatch' });
      assert.ok(
        h.logLines.some((l) => l.includes('tensor shape mismatch') && JSON.parse(l).level === 50),
        'error was logged',
      );

      h.backend.failure = undefined;
      const next = await h.classify({ inputs: 'hello' });
      assert.equal(next.status, 200);
      assert.deepEqual(next.body, [expectedRanking('hello')]);
    });

    it('survives a client that disconnects while the backend is working', async function () {
      let release!: () => void;
      h.backend.gate = new Promise((r) => (release = r));
      const controller = new AbortController();
      const pending = h.classify({ inputs: 'hello' });
      void pending.catch(() => {});
      const aborted = fetch(`${h.api.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"inputs":"bye"}',
        signal: controller.signal,
      });
      while (h.backend.calls.length < 2) await new Promise((r) => setTimeout(r, 5));
      controller.abort();
      await assert.rejects(aborted);
      release();
      assert.equal((await pending).status, 200);
      h.backend.gate = undefined;
      assert.equal((await h.classify({ inputs: 'again' })).status, 200);
    });
  });

  it('reports readiness alone on GET /healthz when the backend has no health()', async function () {
    assert.deepEqual((await h.call('/healthz')).body, { status: 'ok', ready: true });
    h.backend.ready = false;
    const reply = await h.call('/healthz');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { status: 'ok', ready: false });
  });

  it('reports the active plan version and connected agents on GET /healthz', async function () {
    h.backend.health = () => ({ planVersion: 3, agentsConnected: 2 });
    assert.deepEqual((await h.call('/healthz')).body, {
      status: 'ok',
      ready: true,
      planVersion: 3,
      agentsConnected: 2,
    });
    h.backend.ready = false;
    h.backend.health = () => ({ planVersion: null, agentsConnected: 1 });
    assert.deepEqual((await h.call('/healthz')).body, {
      status: 'ok',
      ready: false,
      planVersion: null,
      agentsConnected: 1,
    });
  });
});
