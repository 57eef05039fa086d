import assert from 'node:assert/strict';
import { loadMatmulModel, matmulFeeds } from '../device-agent/profile.js';
import { ComputeThread } from '../device-agent/runtime/compute-thread.js';
import { ShardSession, type RunStretch } from '../device-agent/runtime/session.js';
import { STEP_REFUSED_CODES } from '../device-agent/errors.js';

/** A stretch that runs at full speed and keeps the CPU time each run reported. */
function recordingStretch(): RunStretch & { reported: (number | undefined)[] } {
  const reported: (number | undefined)[] = [];
  return {
    reported,
    async around(_key, run, cpuMsOf) {
      const result = await run();
      reported.push(cpuMsOf?.(result));
      return result;
    },
  };
}

describe('compute thread (shards run off the thread that moves frames)', function () {
  let thread: ComputeThread;
  beforeEach(() => (thread = new ComputeThread()));
  afterEach(() => thread.close());

  it('gives the same outputs as the same shard on the caller thread, and leaves the feeds usable', async function () {
    const feeds = matmulFeeds(64);
    const before = Float32Array.from(feeds.A!.data as Float32Array);
    const here = await ShardSession.create(loadMatmulModel(), { threads: 1 });
    const there = await ShardSession.create(loadMatmulModel(), { threads: 1, thread });
    assert.deepEqual(there.inputNames, here.inputNames);
    assert.deepEqual(there.outputNames, here.outputNames);
    const [a, b] = [await here.run(feeds), await there.run(feeds)];
    const name = here.outputNames[0]!;
    assert.deepEqual(b[name]!.dims, a[name]!.dims);
    assert.deepEqual(b[name]!.data, a[name]!.data);
    // The caller's arrays were copied, not handed over: still whole and unchanged.
    assert.deepEqual(feeds.A!.data, before);
    await Promise.all([here.release(), there.release()]);
  });

  it('hands the stretch the CPU time the run took on the compute thread', async function () {
    const stretch = recordingStretch();
    const session = await ShardSession.create(loadMatmulModel(), { threads: 1, thread, stretch });
    await session.run(matmulFeeds(256));
    assert.equal(stretch.reported.length, 1);
    // 2·256³ FLOPs: well over a tenth of a millisecond of CPU on any machine this runs on.
    assert.ok(stretch.reported[0]! > 0.1, `reported ${stretch.reported[0]} ms`);
    const onCaller = recordingStretch();
    const here = await ShardSession.create(loadMatmulModel(), { threads: 1, stretch: onCaller });
    await here.run(matmulFeeds(16));
    assert.deepEqual(onCaller.reported, [undefined], 'on the caller thread the stretch reads the process clock itself');
  });

  it('keeps the main thread moving while a long run computes', async function () {
    const session = await ShardSession.create(loadMatmulModel(), { threads: 1, thread });
    await session.run(matmulFeeds(32)); // loaded and warm
    // About 2·1536³ = 7 GFLOPs: far longer than a timer's millisecond. On the caller's thread the binding runs it
    // synchronously, and no timer could fire before it ends.
    let runEnded = false;
    const run = session.run(matmulFeeds(1536)).then(() => (runEnded = true));
    const timerSawRunning = await new Promise<boolean>((resolve) => setTimeout(() => resolve(!runEnded), 1));
    await run;
    assert.equal(timerSawRunning, true, 'a 1 ms timer fired only after the run had ended');
  });

  it('refuses a bad run with ONNX Runtime’s reason and keeps serving', async function () {
    const session = await ShardSession.create(loadMatmulModel(), { threads: 1, thread });
    const bad = { A: matmulFeeds(8).A!, B: matmulFeeds(9).B! };
    await assert.rejects(session.run(bad), (err: Error) => /dimension|shape|dims/i.test(err.message));
    const ok = await session.run(matmulFeeds(8));
    assert.equal(Object.keys(ok).length, 1);
  });

  it('fails runs with a stable code once the thread is closed', async function () {
    const session = await ShardSession.create(loadMatmulModel(), { threads: 1, thread });
    const pending = assert.rejects(
      session.run(matmulFeeds(512)),
      (err: Error & { code?: string }) => err.code === STEP_REFUSED_CODES.agentStopping,
    );
    await thread.close();
    await pending;
    await assert.rejects(session.run(matmulFeeds(8)), (err: Error & { code?: string }) => {
      assert.equal(err.code, STEP_REFUSED_CODES.agentStopping);
      assert.match(err.message, /stopping/);
      return true;
    });
  });
});
