import assert from 'node:assert/strict';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startAgentProcess, startSimCluster } from '../sim/index.js';
import { runChaos } from '../sim/chaos.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const TEXTS = readLabelledTsv(FIXTURE_DEV)
  .map((e) => e.sentence)
  .slice(0, 60);

describe('surviving a failed agent mid-traffic (real processes)', function () {
  this.timeout(240_000);
  let expected: Map<string, { label: string; score: number }>;

  before(async () => {
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR), {
      threads: 1,
    });
    expected = new Map((await runner.classify(TEXTS, 16)).map((r) => [r.text, { label: r.label, score: r.score }]));
    await runner.release();
  });

  for (const failure of ['kill', 'freeze'] as const) {
    const how = failure === 'kill' ? 'killed with SIGKILL' : 'frozen with SIGSTOP';
    it(`a middle-stage agent ${how} during 300 requests at concurrency 16: ≥ 99% answered correctly, none lost, back within 3 s, and the agent rejoins`, async () => {
      const cluster = await startSimCluster({
        model: FIXTURE_DIR,
        agents: 3,
        planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
      });
      try {
        const report = await runChaos(cluster, {
          texts: TEXTS,
          requests: 300,
          concurrency: 16,
          failAfter: 100,
          failure,
          victim: 'agent-1',
          expected,
        });
        assert.equal(report.wrong, 0, JSON.stringify(report));
        assert.equal(report.lost, 0, JSON.stringify(report));
        assert.equal(report.answered + report.degraded + report.failedRetryable, 300);
        assert.ok(report.answered >= 297, `only ${report.answered} of 300 answered: ${JSON.stringify(report)}`);
        assert.ok(report.recoveryMs < 3000, `recovery took ${report.recoveryMs} ms`);
        // The repaired plan ran without the victim.
        const repaired = cluster.coordinator.activePlan!;
        assert.ok(repaired.version > 1);
        let sentBefore = 0;
        if (failure === 'kill') {
          assert.ok(!repaired.endpoints.some((e) => e.agentId === 'agent-1'));
          // A restarted agent rejoins, and its shards come from its disk cache, not the network.
          sentBefore = cluster.coordinator.shardBytesSent.get('agent-1') ?? 0;
          assert.ok(sentBefore > 0);
          const again = startAgentProcess({
            name: 'agent-1',
            coordinator: `127.0.0.1:${cluster.coordinator.grpcPort}`,
            dataDir: cluster.dataDir,
            threads: 1,
            clusterToken: cluster.clusterToken,
          });
          cluster.agents[1] = again;
          await again.ready;
        }
        // Either way (restarted, or thawed by SIGCONT) agent-1 comes back into the plan file's plan.
        await waitFor(() => cluster.coordinator.activePlan!.stages.some((s) => s.host === 'agent-1'), 10_000);
        if (failure === 'kill')
          assert.equal(
            cluster.coordinator.shardBytesSent.get('agent-1'),
            sentBefore,
            'the restarted agent downloaded shards again',
          );
        const res = await fetch(`${cluster.url}/v1/classify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: TEXTS[0] }),
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-edgerelay-agents'), 'agent-0>agent-1>agent-2');
      } finally {
        await cluster.stop();
      }
    });
  }
});
