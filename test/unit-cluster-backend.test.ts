import assert from 'node:assert/strict';
import { BackendUnavailableError } from '../coordinator/api/backend.js';
import { ClusterBackend, type ClusterBackendOptions } from '../coordinator/serving/cluster-backend.js';
import { RequestFailedError } from '../coordinator/serving/dispatcher.js';
import { HfTokenizer, wordPieceTokenizerJson } from '../coordinator/tokenizer/index.js';
import type { FrameOf } from '../proto/frames.js';
import { FakeDispatcher, result, type Script } from './helpers/unit-fake-dispatcher.js';

/**
 * ClusterBackend's retry loop against a scripted dispatcher: which failures are retried, on which
 * plan, until when, and what the caller is told when the deadline passes.
 */

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'hello', 'world'];
const tokenizer = new HfTokenizer(wordPieceTokenizerJson(new Map(VOCAB.map((t, i) => [t, i]))), { source: 'test' });
const HELLO_WORLD_IDS = [2, 4, 5, 3];

const interim = (exitLayer: number, logits: number[]): FrameOf<'interim'> => ({
  type: 'interim',
  requestId: 'r',
  planVersion: 1,
  exitLayer,
  logits,
});
const retryable = (message: string, withInterim?: FrameOf<'interim'>) =>
  new RequestFailedError(message, true, withInterim);

function backendFor(dispatcher: FakeDispatcher, options: Partial<ClusterBackendOptions> = {}): ClusterBackend {
  return new ClusterBackend(tokenizer, dispatcher.asDispatcher(), {
    labels: ['negative', 'positive'],
    maxLength: 16,
    requestTimeoutMs: 5000,
    retryBackoffMs: 5,
    ...options,
  });
}

async function failureOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected classify to fail');
}

describe('ClusterBackend retries (unit, scripted dispatcher)', function () {
  it("answers from the dispatcher's result: scores ranked by softmax, 1-based exit layer, agents from the trace", async function () {
    const trace = [
      { agent: 'a', stage: 0, layersRun: 2, computeMs: 1, groupWaitMs: 0, members: ['m'] },
      { agent: 'b', stage: 1, layersRun: 2, computeMs: 1, groupWaitMs: 0, members: [] },
    ];
    const d = new FakeDispatcher(() => result([0, Math.log(3)], { exitLayer: 3, early: true, trace }));
    d.activate({ version: 1, exit: { maxProbThreshold: 0.8, policy: '' } });
    const [out] = await backendFor(d).classify(['hello world'], {});
    assert.deepEqual(
      d.calls.map((c) => [c.ids, c.policy]),
      [[HELLO_WORLD_IDS, 'max-prob=0.8']],
    );
    assert.deepEqual(
      out!.scores.map((s) => s.label),
      ['positive', 'negative'],
    );
    assert.ok(Math.abs(out!.scores[0]!.score - 0.75) < 1e-9);
    assert.equal(out!.exitLayer, 4);
    assert.equal(out!.early, true);
    assert.equal(out!.degraded, false);
    assert.deepEqual(out!.agents, ['a', 'm', 'b']);
  });

  it('retries a retryable failure on the next plan once the failed plan is replaced', async function () {
    const d = new FakeDispatcher((call) => {
      if (call.planVersion === 1) {
        d.invalidate(); // as the real dispatcher does when an agent of the plan fails
        return retryable('lost the data-plane link to agent-1');
      }
      return result([2, 1], { planVersion: call.planVersion });
    });
    d.activate({ version: 1, exit: null });
    d.onWait = (version) => setTimeout(() => d.activate({ version: version + 1, exit: null }), 10);
    const [out] = await backendFor(d).classify(['hello world'], {});
    assert.deepEqual(
      d.calls.map((c) => c.planVersion),
      [1, 2],
    );
    assert.ok(
      d.waits.some((w) => w.version === 1),
      'waited for a plan newer than the failed one',
    );
    assert.deepEqual(d.calls[1]!.ids, HELLO_WORLD_IDS);
    assert.deepEqual(out!.logits, [2, 1]);
    assert.equal(out!.degraded, false);
  });

  it('retries a transient retryable failure on the same plan while it stays servable', async function () {
    let n = 0;
    const d = new FakeDispatcher(() => (++n < 3 ? retryable('agent busy') : result([0, 1])));
    d.activate({ version: 4, exit: null });
    const [out] = await backendFor(d, { retryBackoffMs: 5 }).classify(['hello'], {});
    assert.deepEqual(
      d.calls.map((c) => c.planVersion),
      [4, 4, 4],
    );
    assert.deepEqual(out!.logits, [0, 1]);
  });

  it("does not retry a non-retryable failure: the dispatcher's error reaches the caller after one attempt", async function () {
    const fatal = new RequestFailedError('invalid exit policy', false);
    const d = new FakeDispatcher(() => fatal);
    d.activate({ version: 1, exit: null });
    const err = await failureOf(backendFor(d).classify(['hello'], {}));
    assert.equal(err, fatal);
    assert.equal(d.calls.length, 1);
  });

  it('does not retry an unexpected error that is not a RequestFailedError', async function () {
    const d = new FakeDispatcher(() => new TypeError('bug'));
    d.activate({ version: 1, exit: null });
    const err = await failureOf(backendFor(d).classify(['hello'], {}));
    assert.ok(err instanceof TypeError);
    assert.equal(d.calls.length, 1);
  });

  it('keeps retrying until the request deadline, then fails naming the deadline, the flag and the last error', async function () {
    let n = 0;
    const d = new FakeDispatcher(() => retryable(`agent busy #${++n}`));
    d.activate({ version: 1, exit: null });
    const started = performance.now();
    const err = await failureOf(backendFor(d, { requestTimeoutMs: 150, retryBackoffMs: 10 }).classify(['hello'], {}));
    const elapsed = performance.now() - started;
    assert.ok(err instanceof BackendUnavailableError);
    assert.equal(
      err.message,
      `could not classify within the 150 ms request deadline (--request-timeout): agent busy #${n}`,
    );
    assert.equal(err.retryAfterSeconds, 1);
    assert.ok(d.calls.length >= 3, `only ${d.calls.length} attempts`);
    assert.ok(elapsed >= 140 && elapsed < 2000, `gave up after ${elapsed} ms`);
    // Every attempt is given what is left of the deadline, never more.
    assert.ok(d.calls.every((c) => c.timeoutMs >= 1 && c.timeoutMs <= 150));
    assert.ok(d.calls[d.calls.length - 1]!.timeoutMs < d.calls[0]!.timeoutMs);
  });

  it('says no plan became servable when none did before the deadline, without submitting anything', async function () {
    const d = new FakeDispatcher(() => result([1, 0]));
    const err = await failureOf(backendFor(d, { requestTimeoutMs: 80 }).classify(['hello'], {}));
    assert.ok(err instanceof BackendUnavailableError);
    assert.equal(
      err.message,
      'could not classify within the 80 ms request deadline (--request-timeout): no plan became servable',
    );
    assert.equal(d.calls.length, 0);
  });

  it('answers with the interim exit an earlier attempt reached, flagged degraded, when retries run out', async function () {
    let n = 0;
    // Only the first attempt reached an exit head; the later ones fail without one.
    const d = new FakeDispatcher(() =>
      ++n === 1 ? retryable('agent-2 failed', interim(1, [3, 0])) : retryable('still broken'),
    );
    d.activate({ version: 1, exit: null });
    const [out] = await backendFor(d, { requestTimeoutMs: 120 }).classify(['hello'], {});
    assert.ok(d.calls.length >= 2);
    assert.deepEqual(out!.logits, [3, 0]);
    assert.equal(out!.exitLayer, 2);
    assert.equal(out!.early, true);
    assert.equal(out!.degraded, true);
    assert.equal(out!.scores[0]!.label, 'negative');
  });

  it('refuses an overloaded request at once with a retry-after error instead of retrying it', async function () {
    const d = new FakeDispatcher(
      () => new RequestFailedError('overloaded: 3 requests in flight', true, undefined, true),
    );
    d.activate({ version: 1, exit: null });
    const started = performance.now();
    const err = await failureOf(backendFor(d, { requestTimeoutMs: 5000 }).classify(['hello'], {}));
    assert.ok(performance.now() - started < 1000);
    assert.ok(err instanceof BackendUnavailableError);
    assert.equal(err.message, 'the cluster is overloaded (overloaded: 3 requests in flight); retry after 1 s');
    assert.equal(d.calls.length, 1);
  });

  it('answers an overloaded retry with the interim exit an earlier attempt reached', async function () {
    const script: Script = (call) => {
      if (call.planVersion === 1) {
        d.invalidate();
        return retryable('agent-1 failed', interim(2, [0, 4]));
      }
      return new RequestFailedError('overloaded: 9 requests in flight', true, undefined, true);
    };
    const d = new FakeDispatcher(script);
    d.activate({ version: 1, exit: null });
    d.onWait = () => setTimeout(() => d.activate({ version: 2, exit: null }), 5);
    const [out] = await backendFor(d).classify(['hello'], {});
    assert.deepEqual(
      d.calls.map((c) => c.planVersion),
      [1, 2],
    );
    assert.equal(out!.degraded, true);
    assert.equal(out!.exitLayer, 3);
    assert.deepEqual(out!.logits, [0, 4]);
  });
});
