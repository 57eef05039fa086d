import assert from 'node:assert/strict';

import { startHttpApi, type HttpApi } from '../coordinator/api/index.js';
import { ClusterBackend } from '../coordinator/serving/cluster-backend.js';
import { RequestFailedError, type Dispatcher } from '../coordinator/serving/dispatcher.js';
import { loadTokenizer, type TextTokenizer } from '../coordinator/tokenizer/index.js';
import { FIXTURE_DIR } from './helpers/fixture.js';

/**
 * The dispatcher's side of ClusterBackend, without agents: records the token ids it is sent and
 * answers, or fails the way the real one does.
 */
class StubDispatcher {
  activePlan: { version: number; exit: null } | undefined = { version: 7, exit: null };
  servable = true;
  failure: RequestFailedError | undefined;
  readonly sent: number[][] = [];

  async waitForPlanAfter(_version: number, timeoutMs: number): Promise<void> {
    await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 20)));
  }

  async submit(ids: BigInt64Array): Promise<unknown> {
    this.sent.push(Array.from(ids, Number));
    if (this.failure) throw this.failure;
    return {
      type: 'result',
      requestId: 'r',
      planVersion: 7,
      exitLayer: 5,
      early: false,
      logits: [0.2, 1.5],
      trace: [],
    };
  }
}

const MAX_LENGTH = 16;

describe('ClusterBackend behind the HTTP API (real tokenizer, stub data plane)', function () {
  let tokenizer: TextTokenizer;
  let dispatcher: StubDispatcher;
  let api: HttpApi;
  let agents: number;

  before(function () {
    tokenizer = loadTokenizer(FIXTURE_DIR);
  });

  beforeEach(async function () {
    dispatcher = new StubDispatcher();
    agents = 3;
    const backend = new ClusterBackend(tokenizer, dispatcher as unknown as Dispatcher, {
      labels: ['negative', 'positive'],
      maxLength: MAX_LENGTH,
      requestTimeoutMs: 30_000,
      agentsConnected: () => agents,
    });
    api = await startHttpApi(backend, { port: 0 });
  });

  afterEach(async function () {
    await api.close();
  });

  async function classify(body: unknown) {
    const res = await fetch(`${api.url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  }

  const long =
    'a gorgeous , witty , seductive movie that keeps its wit and its warmth from the first frame to the last one .';

  it('cuts an over-long text to the model positions as the tokenizer does, and reports the tokens dropped', async function () {
    const total = tokenizer.tokenize(long).length + 2;
    assert.ok(total > MAX_LENGTH);
    const reply = await classify({ inputs: ['short one', long], parameters: { details: true } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-edgerelay-truncated'), '1');
    assert.deepEqual(
      reply.body.details.map((d: { truncated: boolean; tokensDropped: number }) => [d.truncated, d.tokensDropped]),
      [
        [false, 0],
        [true, total - MAX_LENGTH],
      ],
    );
    assert.deepEqual(dispatcher.sent[1], tokenizer.encode(long, MAX_LENGTH).ids);
    assert.deepEqual(dispatcher.sent[0], tokenizer.encode('short one', MAX_LENGTH).ids);
  });

  it('refuses an over-long text with do_not_truncate, naming its length and the limit, and sends nothing', async function () {
    const total = tokenizer.tokenize(long).length + 2;
    const reply = await classify({ inputs: ['short one', long], parameters: { truncation: 'do_not_truncate' } });
    assert.equal(reply.status, 400);
    assert.equal(
      reply.body.error.startsWith(
        `inputs[1]: the text is ${total} tokens long ([CLS] and [SEP] included), over the model's ${MAX_LENGTH}-token limit`,
      ),
      true,
      reply.body.error,
    );
    assert.equal(dispatcher.sent.length, 0);
  });

  it('accepts a text of exactly the model positions with do_not_truncate', async function () {
    const words = tokenizer.tokenize(long).slice(0, MAX_LENGTH - 2);
    assert.ok(words.every((w) => !w.startsWith('##')));
    const reply = await classify({ inputs: words.join(' '), parameters: { truncation: 'do_not_truncate' } });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('x-edgerelay-truncated'), '0');
    assert.equal(dispatcher.sent[0]!.length, MAX_LENGTH);
  });

  it('answers an overloaded request with a 503 that says overloaded and when to retry, at once', async function () {
    dispatcher.failure = new RequestFailedError('overloaded: 4 requests in flight', true, undefined, true);
    const started = performance.now();
    const reply = await classify({ inputs: 'hello' });
    assert.ok(performance.now() - started < 2000);
    assert.equal(reply.status, 503);
    assert.equal(reply.headers.get('retry-after'), '1');
    assert.equal(reply.body.error, 'the cluster is overloaded (overloaded: 4 requests in flight); retry after 1 s');
    assert.doesNotMatch(reply.body.error, /within \d+ ms/);
  });

  it('reports the active plan version and the connected agents on /healthz', async function () {
    assert.deepEqual(await (await fetch(`${api.url}/healthz`)).json(), {
      status: 'ok',
      ready: true,
      planVersion: 7,
      agentsConnected: 3,
    });
    dispatcher.activePlan = undefined;
    agents = 1;
    assert.deepEqual(await (await fetch(`${api.url}/healthz`)).json(), {
      status: 'ok',
      ready: false,
      planVersion: null,
      agentsConnected: 1,
    });
  });
});
