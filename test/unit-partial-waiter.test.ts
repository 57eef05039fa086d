import assert from 'node:assert/strict';
import { PartialWaiter } from '../device-agent/executor/partial-waiter.js';
import { float32Tensor, type HostTensor } from '../device-agent/runtime/index.js';

/** PartialWaiter on its own: how a group host gathers its members' partial sums for one step. */

const partial = (v: number): HostTensor => float32Tensor(Float32Array.of(v, v), [1, 1, 2]);
const valuesOf = (ts: HostTensor[]) => ts.map((t) => t.data[0]);

/** Settles within `ms` or says it is still pending. */
function settledWithin<T>(p: Promise<T>, ms = 50): Promise<{ value: T } | { error: Error } | 'pending'> {
  return Promise.race([
    p.then(
      (value) => ({ value }),
      (error: Error) => ({ error }),
    ),
    new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms)),
  ]);
}

/** A second wait on a key in use must be refused, whether by throwing or by a rejected promise. */
async function refusal(start: () => Promise<unknown>): Promise<Error> {
  let p: Promise<unknown>;
  try {
    p = start();
  } catch (err) {
    return err as Error;
  }
  const outcome = await settledWithin(p);
  assert.ok(typeof outcome === 'object' && 'error' in outcome, 'the duplicate wait was accepted');
  return outcome.error;
}

describe('PartialWaiter (unit)', function () {
  const key = PartialWaiter.key('req-1', 2, 'attention');

  it('keys a wait by request, layer and part, so different steps of one request never mix', function () {
    const keys = new Set([
      PartialWaiter.key('req-1', 2, 'attention'),
      PartialWaiter.key('req-1', 2, 'ffn'),
      PartialWaiter.key('req-1', 3, 'attention'),
      PartialWaiter.key('req-2', 2, 'attention'),
    ]);
    assert.equal(keys.size, 4);
    assert.equal(PartialWaiter.key('req-1', 2, 'attention'), key);
  });

  it('resolves once the expected number of partials is delivered, with them in arrival order', async function () {
    const w = new PartialWaiter();
    const gathered = w.expect(key, 3, 5000);
    assert.equal(w.deliver(key, partial(1)), true);
    assert.equal(w.deliver(key, partial(2)), true);
    assert.equal(await settledWithin(gathered), 'pending');
    assert.equal(w.deliver(key, partial(3)), true);
    assert.deepEqual(valuesOf(await gathered), [1, 2, 3]);
  });

  it('does not let the timer of a completed wait cut short a later wait on the same key', async function () {
    const w = new PartialWaiter();
    const first = w.expect(key, 1, 30);
    w.deliver(key, partial(1));
    await first;
    const second = w.expect(key, 1, 5000);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(w.deliver(key, partial(2)), true);
    assert.deepEqual(valuesOf(await second), [2]);
  });

  it('refuses a partial delivered after the wait is complete (late or duplicate)', async function () {
    const w = new PartialWaiter();
    const gathered = w.expect(key, 1, 5000);
    assert.equal(w.deliver(key, partial(1)), true);
    assert.equal(w.deliver(key, partial(1)), false);
    assert.deepEqual(valuesOf(await gathered), [1]);
  });

  it('refuses a partial nobody waits for yet: it is not counted toward a wait registered later', async function () {
    const w = new PartialWaiter();
    assert.equal(w.deliver(key, partial(9)), false);
    const gathered = w.expect(key, 1, 5000);
    assert.equal(await settledWithin(gathered), 'pending');
    w.deliver(key, partial(4));
    assert.deepEqual(valuesOf(await gathered), [4]);
  });

  it('does not deliver a partial to a wait for another key', async function () {
    const w = new PartialWaiter();
    const gathered = w.expect(key, 1, 5000);
    assert.equal(w.deliver(PartialWaiter.key('req-1', 2, 'ffn'), partial(1)), false);
    assert.equal(await settledWithin(gathered), 'pending');
    w.failAll(new Error('cleanup'));
    await assert.rejects(gathered, /cleanup/);
  });

  it('resolves at once with no partials when none are expected, and registers no wait', async function () {
    const w = new PartialWaiter();
    assert.deepEqual(await w.expect(key, 0, 5000), []);
    assert.equal(w.deliver(key, partial(1)), false);
  });

  it('rejects a wait that is not complete within its timeout, naming the key, and forgets it', async function () {
    const w = new PartialWaiter();
    const started = performance.now();
    const gathered = w.expect(key, 2, 40);
    w.deliver(key, partial(1));
    await assert.rejects(gathered, (err: Error) => err.message === `group members did not answer ${key} within 40 ms`);
    assert.ok(performance.now() - started >= 35);
    assert.equal(w.deliver(key, partial(2)), false);
    // The key is free again: a new wait on it is accepted and completes.
    const again = w.expect(key, 1, 5000);
    w.deliver(key, partial(5));
    assert.deepEqual(valuesOf(await again), [5]);
  });

  it('refuses a second wait on a key in use (a duplicate request id) and leaves the first intact', async function () {
    const w = new PartialWaiter();
    const first = w.expect(key, 1, 5000);
    const err = await refusal(() => w.expect(key, 1, 5000));
    assert.match(err.message, /duplicate request id/);
    assert.match(err.message, new RegExp(key));
    assert.equal(w.deliver(key, partial(7)), true);
    assert.deepEqual(valuesOf(await first), [7]);
  });

  it("fails every wait of one request with failRequest, and only that request's", async function () {
    const w = new PartialWaiter();
    const attention = w.expect(PartialWaiter.key('r1', 0, 'attention'), 1, 5000);
    const ffn = w.expect(PartialWaiter.key('r1', 4, 'ffn'), 2, 5000);
    // 'r10' starts with 'r1': a prefix of the id must not match.
    const other = w.expect(PartialWaiter.key('r10', 0, 'attention'), 1, 5000);
    const boom = new Error('member agent-2 reported an error for r1');
    w.failRequest('r1', boom);
    await assert.rejects(attention, (e) => e === boom);
    await assert.rejects(ffn, (e) => e === boom);
    assert.equal(w.deliver(PartialWaiter.key('r1', 0, 'attention'), partial(1)), false);
    assert.equal(await settledWithin(other), 'pending');
    assert.equal(w.deliver(PartialWaiter.key('r10', 0, 'attention'), partial(3)), true);
    assert.deepEqual(valuesOf(await other), [3]);
  });

  it('fails one wait with fail(key) and ignores fail for a key nobody waits on', async function () {
    const w = new PartialWaiter();
    const a = w.expect(PartialWaiter.key('r', 0, 'attention'), 1, 5000);
    const b = w.expect(PartialWaiter.key('r', 0, 'ffn'), 1, 5000);
    w.fail(PartialWaiter.key('r', 9, 'ffn'), new Error('nobody'));
    w.fail(PartialWaiter.key('r', 0, 'attention'), new Error('scatter to agent-3 failed'));
    await assert.rejects(a, /scatter to agent-3 failed/);
    w.deliver(PartialWaiter.key('r', 0, 'ffn'), partial(2));
    assert.deepEqual(valuesOf(await b), [2]);
  });

  it('fails every pending wait with failAll, after which deliveries are refused', async function () {
    const w = new PartialWaiter();
    const waits = [
      w.expect(PartialWaiter.key('a', 0, 'attention'), 1, 5000),
      w.expect(PartialWaiter.key('b', 1, 'ffn'), 3, 30),
    ];
    w.failAll(new Error('plan replaced'));
    for (const p of waits) await assert.rejects(p, /plan replaced/);
    assert.equal(w.deliver(PartialWaiter.key('a', 0, 'attention'), partial(1)), false);
    // Nothing is left behind: the failed wait's 30 ms timer must not fire into a new wait on its key.
    const fresh = w.expect(PartialWaiter.key('b', 1, 'ffn'), 1, 5000);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(w.deliver(PartialWaiter.key('b', 1, 'ffn'), partial(6)), true);
    assert.deepEqual(valuesOf(await fresh), [6]);
  });
});
