import assert from 'node:assert/strict';
import { ComputeStretch, type EmulationRecord } from '@edgerelay/device-agent';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { startSimCluster } from '../sim/index.js';
import { emulationVerdict, sumCounters } from '../bench/emulation-check.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { writePlan } from './helpers/plans.js';
import { burn } from './helpers/burn.js';

const record = (): EmulationRecord => ({
  emulatedRuns: 0,
  emulationTargetMs: 0,
  emulationOvershootMs: 0,
  emulationOvershotRuns: 0,
  emulationReferenceGflops: 0,
});

describe('emulation overshoot: a machine that cannot play the device says so', () => {
  it('records the overshoot of a device faster than this machine, and none for a much slower one', async () => {
    const fast = record();
    // ratio 0.05: the emulated device would take a twentieth of this machine's CPU time, which no sleep can give
    // back. (The process's CPU clock counts every thread, at most one per core, so a ratio this small overshoots
    // on any machine of up to 20 cores, even with a GC thread busy beside the run.)
    await new ComputeStretch(0.05, fast).around('k', () => burn(20));
    assert.equal(fast.emulatedRuns, 1);
    assert.equal(fast.emulationOvershotRuns, 1);
    assert.ok(fast.emulationOvershootMs > 5, `overshoot ${fast.emulationOvershootMs} ms`);
    assert.ok(emulationVerdict(sumCounters([statsOf(fast)])).flag);

    const slow = record();
    const t = performance.now();
    await new ComputeStretch(50, slow).around('k', () => burn(4));
    // Slept to its target (50 × the run's CPU time), less the timer's rounding; whatever CPU a busy machine gave it.
    assert.ok(slow.emulationTargetMs > 5, `target ${slow.emulationTargetMs} ms`);
    const slept = performance.now() - t;
    assert.ok(
      slept >= slow.emulationTargetMs - 1,
      `the stretch slept ${slept} ms of a ${slow.emulationTargetMs} ms target`,
    );
    assert.equal(slow.emulationOvershotRuns, 0);
    assert.equal(emulationVerdict(sumCounters([statsOf(slow)])).flag, undefined);
  });

  it('flags a run only past the allowed overshoot', () => {
    const counters = { targetMs: 1000, overshootMs: 40, overshotRuns: 2, runs: 10, bytesSent: 0 };
    assert.equal(emulationVerdict(counters).flag, undefined);
    assert.match(
      emulationVerdict({ ...counters, overshootMs: 60 }).flag!,
      /emulation could not keep up: .*6\.0% longer/,
    );
    assert.equal(emulationVerdict({ ...counters, targetMs: 0, overshootMs: 0, runs: 0 }).flag, undefined);
  });

  it('real agents report it in their stats: an emulated device faster than this machine is flagged', async function () {
    this.timeout(120_000);
    const texts = readLabelledTsv(FIXTURE_DEV)
      .map((e) => e.sentence)
      .slice(0, 3);
    const cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 2,
      devices: [
        { name: 'fast', gflops: 1e6, link: 'gigabit' },
        { name: 'slow', gflops: 0.2, link: 'gigabit' },
      ],
      planFile: writePlan({
        stages: [
          { layers: [0, 3], host: 'fast' },
          { layers: [3, 6], host: 'slow' },
        ],
      }),
    });
    try {
      for (const text of texts) {
        const res = await fetch(`${cluster.url}/v1/classify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: text }),
        });
        assert.equal(res.status, 200);
      }
      const fast = await cluster.coordinator.agentStats('fast');
      const slow = await cluster.coordinator.agentStats('slow');
      assert.ok((fast.emulatedRuns ?? 0) >= texts.length, `fast ran ${fast.emulatedRuns} shard runs`);
      assert.ok(emulationVerdict(sumCounters([fast])).flag, JSON.stringify(fast));
      assert.ok((slow.emulatedRuns ?? 0) >= texts.length);
      assert.equal(emulationVerdict(sumCounters([slow])).flag, undefined, JSON.stringify(slow));
    } finally {
      await cluster.stop();
    }
  });
});

function statsOf(r: EmulationRecord) {
  return {
    type: 'stats' as const,
    requestId: 'r',
    agent: 'a',
    stageRuns: 0,
    partialRuns: 0,
    earlyExits: 0,
    layersRun: 0,
    failures: 0,
    cacheCorruptions: 0,
    bytesSent: 0,
    stepsInFlight: 0,
    ...r,
  };
}
