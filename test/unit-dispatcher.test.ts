import assert from 'node:assert/strict';
import pino from 'pino';
import {
  DISPATCH_ERROR_CODES,
  DispatchError,
  Dispatcher,
  RequestFailedError,
} from '../coordinator/serving/dispatcher.js';
import type { FrameOf } from '../proto/frames.js';
import { fromWire } from '../device-agent/runtime/index.js';
import { FakeAgentDataPlane, TEST_PLAN_KEY, onePlan, resultFor } from './helpers/unit-fake-agent.js';

/**
 * The Dispatcher against an in-process fake agent data plane (a real ws listener speaking the
 * handshake on 127.0.0.1): how answers settle requests, how an invalidated plan hands its requests
 * back, and how requests beyond maxInFlight are shed.
 */

const silent = pino({ level: 'silent' });
const ids = (...xs: number[]) => BigInt64Array.from(xs, (x) => BigInt(x));

/** Resolves with the rejection of `p` (fails the test if it resolves). */
async function rejectionOf(p: Promise<unknown>): Promise<RequestFailedError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RequestFailedError, `expected a RequestFailedError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the request to fail, but it was answered');
}

describe('Dispatcher (unit, fake agent data plane)', function () {
  let agent: FakeAgentDataPlane;
  let dispatcher: Dispatcher;

  async function start(maxInFlight = 512, versions = [1, 2]): Promise<void> {
    agent = await FakeAgentDataPlane.start(versions);
    dispatcher = new Dispatcher('coordinator', silent, { maxInFlight });
    await dispatcher.activate(onePlan(1, agent.address), TEST_PLAN_KEY);
  }

  afterEach(async function () {
    dispatcher?.close();
    await agent?.close();
  });

  describe('settling answers', function () {
    beforeEach(async function () {
      await start();
    });

    it("sends the token ids to stage 0 of the active plan, with an all-ones mask and the policy's initial state", async function () {
      const answer = dispatcher.submit(ids(2, 40, 41, 3), 'patience=2', 10_000);
      const { frame, link } = await agent.next('stage-input');
      assert.equal(frame.stage, 0);
      assert.equal(frame.planVersion, 1);
      assert.equal(frame.exitPolicy, 'patience=2');
      assert.deepEqual(frame.exitState, { count: 0, last: -1 });
      assert.deepEqual(frame.trace, []);
      const sentIds = fromWire(frame.inputIds!);
      assert.deepEqual(sentIds.dims, [1, 4]);
      assert.deepEqual(Array.from(sentIds.data as BigInt64Array), [2n, 40n, 41n, 3n]);
      assert.deepEqual(Array.from(fromWire(frame.attentionMask).data as BigInt64Array), [1n, 1n, 1n, 1n]);
      link.send(resultFor(frame, [0.5, -0.5]));
      await answer;
    });

    it('resolves a request with the result frame that carries its id and plan version', async function () {
      const answer = dispatcher.submit(ids(2, 3), 'none', 10_000);
      assert.equal(dispatcher.inFlight, 1);
      const { frame, link } = await agent.next('stage-input');
      const result = resultFor(frame, [1.25, -2.5], { exitLayer: 1, early: true });
      link.send(result);
      const got = await answer;
      assert.equal(got.requestId, frame.requestId);
      assert.deepEqual(got.logits, [1.25, -2.5]);
      assert.equal(got.early, true);
      assert.equal(dispatcher.inFlight, 0);
    });

    it('ignores a result for an unknown request id and one stamped with another plan version', async function () {
      const answer = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const { frame, link } = await agent.next('stage-input');
      // Frames on one link arrive in order: had either of the first two settled the request, it would
      // have resolved with their logits.
      link.send(resultFor({ ...frame, requestId: 'someone-else' }, [9, 9]));
      link.send(resultFor({ ...frame, planVersion: 2 }, [8, 8]));
      link.send(resultFor(frame, [1, 2]));
      assert.deepEqual((await answer).logits, [1, 2]);
    });

    it('ignores a duplicate result: the first answer stands and later requests still match their own answers', async function () {
      const first = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const a = await agent.next('stage-input');
      a.link.send(resultFor(a.frame, [1, 0]));
      a.link.send(resultFor(a.frame, [0, 1]));
      assert.deepEqual((await first).logits, [1, 0]);

      const second = dispatcher.submit(ids(2, 5, 3), 'none', 10_000);
      const b = await agent.next('stage-input');
      assert.notEqual(b.frame.requestId, a.frame.requestId);
      b.link.send(resultFor(a.frame, [7, 7])); // a late copy of the first answer
      b.link.send(resultFor(b.frame, [3, 4]));
      assert.deepEqual((await second).logits, [3, 4]);
      assert.equal(dispatcher.inFlight, 0);
    });

    it('fails a request with the retryable flag of the error frame the agent sends', async function () {
      const fatal = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const a = await agent.next('stage-input');
      a.link.send({
        type: 'error',
        requestId: a.frame.requestId,
        planVersion: 1,
        message: 'shard exploded',
        retryable: false,
      });
      const err = await rejectionOf(fatal);
      assert.equal(err.message, 'shard exploded');
      assert.equal(err.retryable, false);
      assert.equal(err.overloaded, false);

      const transient = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const b = await agent.next('stage-input');
      b.link.send({ type: 'error', requestId: b.frame.requestId, planVersion: 1, message: 'busy', retryable: true });
      assert.equal((await rejectionOf(transient)).retryable, true);
    });

    it('fails a request that gets no answer within its timeout as retryable', async function () {
      const started = performance.now();
      const err = await rejectionOf(dispatcher.submit(ids(2, 3), 'none', 80));
      assert.ok(performance.now() - started >= 70);
      assert.equal(err.message, 'no answer within 80 ms');
      assert.equal(err.retryable, true);
      assert.equal(dispatcher.inFlight, 0);
    });

    it('refuses an unparseable exit policy as non-retryable without sending anything', async function () {
      const err = await rejectionOf(dispatcher.submit(ids(2, 3), 'max-prob=7', 10_000));
      assert.equal(err.retryable, false);
      assert.match(err.message, /max-prob/);
      assert.equal(dispatcher.inFlight, 0);
      // The next request is the first frame the agent sees.
      const next = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const { frame, link } = await agent.next('stage-input');
      assert.equal(agent.received.length, 1);
      link.send(resultFor(frame, [0, 0]));
      await next;
    });
  });

  describe('invalidation', function () {
    beforeEach(async function () {
      await start();
    });

    it('hands every in-flight request of the invalidated plan back as a retryable error naming the reason', async function () {
      const unhealthy: number[] = [];
      dispatcher.on('unhealthy', (v: number) => unhealthy.push(v));
      const a = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const b = dispatcher.submit(ids(2, 4, 3), 'none', 10_000);
      await agent.next('stage-input');
      await agent.next('stage-input');
      assert.equal(dispatcher.inFlight, 2);

      dispatcher.invalidate(1, 'agent-0 stopped heartbeating');
      for (const p of [a, b]) {
        const err = await rejectionOf(p);
        assert.equal(err.retryable, true);
        assert.equal(err.message, 'agent-0 stopped heartbeating');
      }
      assert.equal(dispatcher.inFlight, 0);
      assert.equal(dispatcher.servable, false);
      assert.deepEqual(unhealthy, [1]);
    });

    it('refuses new requests as retryable while the active plan is unhealthy', async function () {
      dispatcher.invalidate(1, 'lost agent-0');
      const err = await rejectionOf(dispatcher.submit(ids(2, 3), 'none', 10_000));
      assert.equal(err.retryable, true);
      assert.equal(err.message, 'no healthy plan is active');
    });

    it('keeps the last interim answer of a request handed back by invalidation', async function () {
      const withInterim = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const barrier = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const a = await agent.next('stage-input');
      const b = await agent.next('stage-input');
      a.link.send({ type: 'interim', requestId: a.frame.requestId, planVersion: 1, exitLayer: 0, logits: [0.3, 0.1] });
      // Frames on one link are handled in order: once the barrier's answer is in, so is the interim.
      b.link.send(resultFor(b.frame, [0, 0]));
      await barrier;

      dispatcher.invalidate(1, 'agent-1 failed');
      const err = await rejectionOf(withInterim);
      assert.equal(err.retryable, true);
      assert.equal(err.interim?.requestId, a.frame.requestId);
      assert.equal(err.interim?.exitLayer, 0);
      assert.deepEqual(err.interim?.logits, [0.3, 0.1]);
    });

    it('ignores invalidation of a plan version that is not the active one', async function () {
      const answer = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const { frame, link } = await agent.next('stage-input');
      dispatcher.invalidate(0, 'an old plan failed');
      assert.equal(dispatcher.servable, true);
      assert.equal(dispatcher.inFlight, 1);
      link.send(resultFor(frame, [5, 6]));
      assert.deepEqual((await answer).logits, [5, 6]);
    });

    it('invalidates the plan when the data-plane link to its stage host drops', async function () {
      const answer = dispatcher.submit(ids(2, 3), 'none', 10_000);
      await agent.next('stage-input');
      agent.dropLinks();
      const err = await rejectionOf(answer);
      assert.equal(err.retryable, true);
      assert.match(err.message, /lost the data-plane link to agent-0/);
      assert.equal(dispatcher.servable, false);
    });

    it('becomes servable again, and wakes plan waiters, when a newer plan is activated', async function () {
      dispatcher.invalidate(1, 'agent-0 failed');
      let woke = false;
      const waiting = dispatcher.waitForPlanAfter(1, 10_000).then(() => (woke = true));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(woke, false);
      await dispatcher.activate(onePlan(2, agent.address), TEST_PLAN_KEY);
      await waiting;
      assert.equal(dispatcher.servable, true);
      assert.equal(dispatcher.activePlan?.version, 2);

      const answer = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const { frame, link } = await agent.next('stage-input');
      assert.equal(frame.planVersion, 2);
      link.send(resultFor(frame, [1, 1]));
      await answer;
    });
  });

  describe('overload', function () {
    it('refuses a request beyond maxInFlight at once with the overloaded flag, and accepts again once one settles', async function () {
      await start(2);
      const a = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const b = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const first = await agent.next('stage-input');
      await agent.next('stage-input');

      const started = performance.now();
      const err = await rejectionOf(dispatcher.submit(ids(2, 3), 'none', 10_000));
      assert.ok(performance.now() - started < 1000);
      assert.ok(err instanceof RequestFailedError);
      assert.equal(err.overloaded, true);
      assert.equal(err.retryable, true);
      assert.equal(err.message, 'overloaded: 2 requests in flight');
      assert.equal(dispatcher.inFlight, 2);

      first.link.send(resultFor(first.frame, [1, 0]));
      await a;
      const c = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const third = await agent.next('stage-input');
      assert.equal(
        agent.received.filter((f) => f.type === 'stage-input').length,
        3,
        'the refused request was never sent',
      );
      third.link.send(resultFor(third.frame, [0, 1]));
      await c;
      dispatcher.invalidate(1, 'test over');
      await rejectionOf(b);
    });

    it('does not flag ordinary failures as overload', async function () {
      await start(1);
      const p = dispatcher.submit(ids(2, 3), 'none', 10_000);
      const { frame, link } = await agent.next('stage-input');
      link.send({
        type: 'error',
        requestId: frame.requestId,
        planVersion: frame.planVersion,
        message: 'nope',
        retryable: true,
      } satisfies FrameOf<'error'>);
      assert.equal((await rejectionOf(p)).overloaded, false);
    });
  });

  describe('closing', function () {
    it('ends a question an agent has not answered at once, with EDGERELAY_DISPATCH_CLOSED, not at its timeout', async function () {
      await start();
      // A link measurement waits up to 30 s; the fake agent never answers it.
      const question = dispatcher.measureLinks('a', agent.address, ['a', 'b']).then(
        () => assert.fail('the question was answered'),
        (err: unknown) => err,
      );
      await agent.next('probe-request');
      dispatcher.close();
      const err = await question;
      assert.ok(err instanceof DispatchError, `expected a DispatchError, got ${String(err)}`);
      assert.equal(err.code, DISPATCH_ERROR_CODES.closed);
      assert.match(err.message, /stopping/);
    });
  });
});
