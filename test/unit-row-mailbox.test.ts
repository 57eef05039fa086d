import assert from 'node:assert/strict';
import { RowMailbox } from '../device-agent/executor/row-mailbox.js';
import { STEP_REFUSED_CODES, StepRefusedError } from '../device-agent/errors.js';

/** RowMailbox on its own: where a sequence-parallel member's incoming rows wait until it takes them. */
describe('RowMailbox', () => {
  const block = (rowStart: number, rows = 1) => ({ rowStart, rows, data: new Float32Array(rows * 2).fill(rowStart) });
  const run = RowMailbox.run('req', 1);
  const key = RowMailbox.key(run, 3, 'attention');

  it('keeps rows that arrive before the member asks, and hands them out one block at a time in arrival order', async () => {
    const box = new RowMailbox(1000);
    assert.ok(box.deliver(run, key, block(4)));
    assert.ok(box.deliver(run, key, block(0)));
    assert.equal((await box.take(run, key)).rowStart, 4);
    assert.equal((await box.take(run, key)).rowStart, 0);
    assert.equal(box.size, 0);
  });

  it('wakes a waiting member as soon as a block arrives', async () => {
    const box = new RowMailbox(1000);
    const taken = box.take(run, key);
    box.deliver(run, key, block(7, 2));
    const b = await taken;
    assert.equal(b.rowStart, 7);
    assert.equal(b.rows, 2);
    assert.equal(box.size, 0);
  });

  it('fails a wait with a group timeout that names the rows it waited for', async () => {
    const box = new RowMailbox(30);
    await assert.rejects(
      box.take(run, key),
      (err: Error) =>
        err instanceof StepRefusedError &&
        err.code === STEP_REFUSED_CODES.groupTimeout &&
        err.message === 'group members did not send rows of req/1/3/attention within 30 ms',
    );
    assert.equal(box.size, 0);
  });

  it('closing a run fails its waits with the reason, drops its rows, refuses later ones, and leaves other runs alone', async () => {
    const box = new RowMailbox(1000);
    const other = RowMailbox.run('req', 2);
    const otherKey = RowMailbox.key(other, 5, 'out');
    box.deliver(other, otherKey, block(1));
    box.deliver(run, RowMailbox.key(run, 3, 'ffn'), block(2));
    const waiting = box.take(run, key);
    box.close(run, new Error('member gone'));
    await assert.rejects(waiting, /member gone/);
    assert.equal(box.deliver(run, key, block(0)), false);
    await assert.rejects(
      box.take(run, key),
      (err: Error) => err instanceof StepRefusedError && err.code === STEP_REFUSED_CODES.groupCancelled,
    );
    assert.equal((await box.take(other, otherKey)).rowStart, 1);
  });

  it('failRequest ends every stage run of the request', async () => {
    const box = new RowMailbox(1000);
    const a = box.take(RowMailbox.run('r', 0), RowMailbox.key(RowMailbox.run('r', 0), 0, 'out'));
    const b = box.take(RowMailbox.run('r', 1), RowMailbox.key(RowMailbox.run('r', 1), 2, 'out'));
    box.failRequest('r', new Error('member failed'));
    await assert.rejects(a, /member failed/);
    await assert.rejects(b, /member failed/);
  });

  it('drops rows nobody takes after twice the timeout', async () => {
    const box = new RowMailbox(10);
    box.deliver(run, key, block(0));
    assert.equal(box.size, 1);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(box.size, 0);
  });
});
