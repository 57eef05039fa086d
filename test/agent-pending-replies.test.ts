import assert from 'node:assert/strict';
import { PartialWaiter } from '../device-agent/executor/partial-waiter.js';
import { float32Tensor } from '../device-agent/runtime/index.js';
import { DuplicateWaitError, PendingReplies } from '../device-agent/util/pending-replies.js';

describe('PendingReplies', () => {
  it('resolves a wait with the value delivered for its key, once', async () => {
    const replies = new PendingReplies<string, number>();
    const wait = replies.wait('a', 1000, () => new Error('timeout'));
    assert.equal(replies.size, 1);
    assert.equal(replies.deliver('a', 7), true);
    assert.equal(replies.deliver('a', 8), false, 'a second reply finds nobody waiting');
    assert.equal(await wait, 7);
    assert.equal(replies.size, 0);
  });

  it('reports a reply nobody waits for', () => {
    assert.equal(new PendingReplies<string, number>().deliver('nobody', 1), false);
  });

  it('rejects with the error made at timeout, and forgets the key', async () => {
    const replies = new PendingReplies<string, number>();
    let made = 0;
    const wait = replies.wait('slow', 20, () => new Error(`timed out ${++made}`));
    await assert.rejects(wait, /timed out 1/);
    assert.equal(made, 1);
    assert.equal(replies.has('slow'), false);
    assert.equal(replies.deliver('slow', 1), false, 'a late reply finds nobody waiting');
  });

  it('clears the timer of a delivered or failed wait (the timeout error is never made)', async () => {
    const replies = new PendingReplies<string, number>();
    let made = 0;
    const onTimeout = () => {
      made++;
      return new Error('timeout');
    };
    const a = replies.wait('a', 20, onTimeout);
    const b = replies.wait('b', 20, onTimeout);
    replies.deliver('a', 1);
    assert.equal(replies.fail('b', new Error('boom')), true);
    assert.equal(await a, 1);
    await assert.rejects(b, /boom/);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(made, 0);
  });

  it('fails every wait at once', async () => {
    const replies = new PendingReplies<number, string>();
    const waits = [1, 2, 3].map((k) => replies.wait(k, 1000, () => new Error('timeout')));
    assert.deepEqual(replies.keys(), [1, 2, 3]);
    replies.failAll(new Error('stopping'));
    for (const w of waits) await assert.rejects(w, /stopping/);
    assert.equal(replies.size, 0);
  });

  it('refuses a second wait on a key still waited on, with a typed error, leaving the first intact', async () => {
    const replies = new PendingReplies<string, number>();
    const first = replies.wait('k', 1000, () => new Error('timeout'));
    assert.throws(
      () => replies.wait('k', 1000, () => new Error('timeout')),
      (err: unknown) => err instanceof DuplicateWaitError && err.code === 'EDGERELAY_DUPLICATE_WAIT',
    );
    replies.deliver('k', 3);
    assert.equal(await first, 3);
    // Once settled, the key may be waited on again.
    const again = replies.wait('k', 1000, () => new Error('timeout'));
    replies.deliver('k', 4);
    assert.equal(await again, 4);
  });
});

describe('PartialWaiter on PendingReplies', () => {
  const partial = (v: number) => float32Tensor(new Float32Array([v]), [1]);

  it('resolves once every expected partial arrived', async () => {
    const waiter = new PartialWaiter();
    const key = PartialWaiter.key('r', 3, 'ffn');
    const gathered = waiter.expect(key, 2, 1000);
    assert.equal(waiter.deliver(key, partial(1)), true);
    assert.equal(waiter.deliver(key, partial(2)), true);
    assert.equal(waiter.deliver(key, partial(3)), false, 'a partial after the last finds nobody waiting');
    assert.deepEqual(
      (await gathered).map((t) => t.data[0]),
      [1, 2],
    );
  });

  it('resolves at once when no member owes a partial', async () => {
    assert.deepEqual(await new PartialWaiter().expect('r/0/attention', 0, 10), []);
  });

  it('times out with the key in the message, and drops what arrived', async () => {
    const waiter = new PartialWaiter();
    const gathered = waiter.expect('r/1/attention', 2, 20);
    waiter.deliver('r/1/attention', partial(1));
    await assert.rejects(gathered, /group members did not answer r\/1\/attention within 20 ms/);
    assert.equal(waiter.deliver('r/1/attention', partial(2)), false);
  });

  it('refuses a duplicate request id before anything is scattered', () => {
    const waiter = new PartialWaiter();
    waiter.expect('r/0/ffn', 1, 1000).catch(() => undefined);
    assert.throws(() => waiter.expect('r/0/ffn', 1, 1000), /already gathering r\/0\/ffn: duplicate request id/);
    waiter.failAll(new Error('done'));
  });

  it('fails only the waits of the request a member reported an error for', async () => {
    const waiter = new PartialWaiter();
    const a = waiter.expect('r1/0/attention', 1, 1000);
    const b = waiter.expect('r1/0/ffn', 1, 1000);
    const c = waiter.expect('r10/0/ffn', 1, 1000);
    waiter.failRequest('r1', new Error('member failed'));
    await assert.rejects(a, /member failed/);
    await assert.rejects(b, /member failed/);
    assert.equal(waiter.deliver('r10/0/ffn', partial(5)), true);
    assert.equal((await c)[0]!.data[0], 5);
  });
});
