import assert from 'node:assert/strict';
import { startAgentProcess, startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DIR } from './helpers/fixture.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Plan versions activated during `ms`, sampled often enough to see every activation's effect. */
async function activationsDuring(cluster: SimCluster, ms: number): Promise<number> {
  const before = cluster.coordinator.activePlan?.version ?? 0;
  await sleep(ms);
  return (cluster.coordinator.activePlan?.version ?? 0) - before;
}

async function classifyOk(cluster: SimCluster): Promise<void> {
  const res = await fetch(`${cluster.url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: 'a gorgeous , witty , seductive movie .' }),
  });
  assert.equal(res.status, 200, await res.text());
}

describe('cluster membership settles after a fault (real processes)', function () {
  this.timeout(120_000);

  it('an agent stalled past the heartbeat allowance rejoins once and the cluster stops replanning', async () => {
    const cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 3,
      planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
    });
    try {
      const victim = cluster.agents[1]!;
      // Several trials: the bug this guards against (a re-registration that schedules another
      // re-registration) showed in 3 of 4 trials, depending on which of two messages arrived first.
      for (let trial = 0; trial < 3; trial++) {
        const start = cluster.coordinator.activePlan!.version;
        victim.child.kill('SIGSTOP');
        await waitFor(() => !cluster.coordinator.registry.get('agent-1'), 10_000, 'the stalled agent evicted');
        await sleep(600);
        victim.child.kill('SIGCONT');
        await waitFor(
          () => cluster.coordinator.activePlan!.stages.some((s) => s.host === 'agent-1'),
          15_000,
          'the agent back in the plan',
        );
        // Settled: no activation at all over a quiet window several re-registration periods long.
        const churn = await activationsDuring(cluster, 4000);
        const used = cluster.coordinator.activePlan!.version - start;
        assert.equal(
          churn,
          0,
          `trial ${trial}: the cluster kept replanning (${churn} activations in 4 s after the agent rejoined)`,
        );
        assert.ok(used <= 3, `trial ${trial}: one stall cost ${used} plan activations (at most 3 allowed)`);
        await classifyOk(cluster);
      }
    } finally {
      await cluster.stop();
    }
  });

  it('a second agent under a live name is refused with a clear reason and causes no replanning', async () => {
    const cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 3,
      planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
    });
    const original = cluster.coordinator.registry.get('agent-1')!.dataAddress;
    const duplicate = startAgentProcess({
      name: 'agent-1',
      coordinator: `127.0.0.1:${cluster.coordinator.grpcPort}`,
      dataDir: cluster.dataDir,
      threads: 1,
      clusterToken: cluster.clusterToken,
    });
    try {
      const churn = await activationsDuring(cluster, 6000);
      assert.equal(churn, 0, `${churn} plan activations while a duplicate agent-1 kept trying to join`);
      assert.match(duplicate.stderrTail(), /already connected from 127\.0\.0\.1:\d+: give this agent another --name/);
      // The original agent-1 still holds the name and serves its stage.
      assert.equal(cluster.coordinator.registry.get('agent-1')?.dataAddress, original);
      await classifyOk(cluster);
    } finally {
      duplicate.child.kill('SIGKILL');
      await cluster.stop();
    }
  });
});
