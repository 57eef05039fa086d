import assert from 'node:assert/strict';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import type { PlanFile } from '../coordinator/planning/index.js';
import { ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { classifyDetailed as classify, killMemberMidTraffic } from './helpers/classify.js';
import { writePlan } from './helpers/plans.js';
import { parseTokenPruning } from '@edgerelay/device-agent';

const SENTENCES = readLabelledTsv(FIXTURE_DEV).map((e) => e.sentence);

/**
 * Sequence-parallel groups of 2, 3 and 4 members on the 6-layer, 4-head, 1024-column fixture, with uneven
 * heads and columns; agents meet in several groups, and one member of the 4-group holds no head at all.
 */
const THREE_GROUPS: PlanFile = {
  stages: [
    {
      layers: [0, 2],
      host: 'agent-0',
      form: 'sequence-parallel',
      members: [
        { agent: 'agent-0', heads: [0, 1, 2], ffnColumns: [[0, 700]] },
        { agent: 'agent-1', heads: [3], ffnColumns: [[700, 1024]] },
      ],
    },
    {
      layers: [2, 4],
      host: 'agent-2',
      form: 'sequence-parallel',
      members: [
        { agent: 'agent-1', heads: [0], ffnColumns: [[0, 200]] },
        { agent: 'agent-2', heads: [1, 2], ffnColumns: [[200, 650]] },
        { agent: 'agent-3', heads: [3], ffnColumns: [[650, 1024]] },
      ],
    },
    {
      layers: [4, 6],
      host: 'agent-3',
      form: 'sequence-parallel',
      members: [
        { agent: 'agent-3', heads: [0], ffnColumns: [[0, 100]] },
        { agent: 'agent-0', heads: [1], ffnColumns: [[100, 400]] },
        { agent: 'agent-1', heads: [2, 3], ffnColumns: [[400, 900]] },
        { agent: 'agent-2', heads: [], ffnColumns: [[900, 1024]] },
      ],
    },
  ],
};

describe('sequence-parallel HALP groups (real agent processes)', function () {
  this.timeout(300_000);
  let reference: Map<string, ClassifyResult>;
  let pruned: Map<string, ClassifyResult>;
  const PRUNING = 'keep=1,1,0.7,0.5,0.4,0.3';

  before(async () => {
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR), {
      threads: 1,
    });
    reference = new Map((await runner.classify(SENTENCES.slice(0, 40), 16)).map((r) => [r.text, r]));
    const prunedTexts = SENTENCES.slice(16, 19);
    const schedule = parseTokenPruning(PRUNING);
    pruned = new Map((await runner.classify(prunedTexts, 16, undefined, schedule)).map((r) => [r.text, r]));
    await runner.release();
  });

  describe('groups of 2, 3 and 4 members with uneven shares', () => {
    let cluster: SimCluster;
    before(async () => {
      // The fixture's texts are short: small chunks and overlap from one row make these agents take the
      // overlapped path (FFN on each block as it arrives, transfers cut into chunks); the kill test below takes
      // the default one (blocks under 64 rows: FFN once on all rows).
      process.env.EDGERELAY_SEQ_CHUNK_ROWS = '3';
      process.env.EDGERELAY_SEQ_OVERLAP_MIN_ROWS = '1';
      try {
        cluster = await startSimCluster({ model: FIXTURE_DIR, agents: 4, planFile: writePlan(THREE_GROUPS) });
      } finally {
        delete process.env.EDGERELAY_SEQ_CHUNK_ROWS;
        delete process.env.EDGERELAY_SEQ_OVERLAP_MIN_ROWS;
      }
    });
    after(async () => cluster?.stop());

    it('the deployed plan keeps the sequence-parallel form of every group', () => {
      assert.deepEqual(
        cluster.plan.stages.map((s) => s.form),
        ['sequence-parallel', 'sequence-parallel', 'sequence-parallel'],
      );
    });

    it('reduce-scatter/all-gather give the reference logits within 1e-4 (float32), for single- and multi-text requests', async () => {
      const texts = SENTENCES.slice(0, 8);
      const single = await Promise.all(texts.slice(0, 4).map((t) => classify(cluster.url, t)));
      const batched = await classify(cluster.url, texts.slice(4));
      const details = [...single.map((b) => b.details[0]!), ...batched.details];
      let worst = 0;
      details.forEach((d, i) => {
        const expected = reference.get(texts[i]!)!.exits.at(-1)!.logits;
        assert.equal(d.exitLayer, 6);
        d.logits.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - expected[j]!))));
      });
      assert.ok(worst < 1e-4, `max logit difference ${worst}`);
      assert.deepEqual([...new Set(details.flatMap((d) => d.agents))].sort(), [
        'agent-0',
        'agent-1',
        'agent-2',
        'agent-3',
      ]);
      // The members ran the stages themselves (seq-start), not host-gather scatters.
      const stats = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
      const memberRuns = stats.map((s) => s!.seqMemberRuns);
      // 8 texts (the API runs a multi-text request text by text); as members (not host): agent-0 runs in stage 3,
      // agent-1 in all three, agent-2 in stage 3, agent-3 in stage 2.
      assert.deepEqual(memberRuns, [8, 24, 8, 8]);
    });

    it('an exit inside a group stage answers there, and the members it leaves mid-stage serve the next request', async () => {
      // With two labels the top probability is always ≥ 0.5: every request exits after layer 1, inside stage 1.
      const early = await classify(cluster.url, SENTENCES.slice(8, 12), { exit_threshold: 0.5 });
      early.details.forEach((d, i) => {
        assert.equal(d.exitLayer, 1);
        const expected = reference.get(SENTENCES[8 + i]!)!.exits[0]!.logits;
        d.logits.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-4));
      });
      const full = await classify(cluster.url, SENTENCES.slice(12, 16));
      full.details.forEach((d, i) => {
        const expected = reference.get(SENTENCES[12 + i]!)!.exits.at(-1)!.logits;
        d.logits.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-4));
      });
      const failures = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
      assert.deepEqual(
        failures.map((s) => s!.failures),
        [0, 0, 0, 0],
        'a member left mid-stage must stop quietly',
      );
    });

    it('a token-pruning request runs the groups in host-gather form and gives the single-node pruned answer', async () => {
      const before = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
      const texts = [...pruned.keys()];
      const last = (r: ClassifyResult) => r.exits.at(-1)!.logits[0]!;
      assert.ok(
        texts.some((t) => Math.abs(last(pruned.get(t)!) - last(reference.get(t)!)) > 1e-3),
        'the schedule must change an answer, or this proves nothing',
      );
      const body = await classify(cluster.url, texts, { token_pruning: PRUNING, exit_policy: 'none' });
      body.details.forEach((d, i) => {
        const expected = pruned.get(texts[i]!)!.exits.at(-1)!.logits;
        d.logits.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-4, `${v} vs ${expected[j]}`));
      });
      const after = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
      assert.deepEqual(
        after.map((s) => s!.seqMemberRuns),
        before.map((s) => s!.seqMemberRuns),
        'no member ran a sequence-parallel stage for it',
      );
      assert.ok(after[1]!.partialRuns > before[1]!.partialRuns, 'the members computed host-gather shares');
    });
  });

  it('a member killed mid-layer loses no request: the plan is repaired and every answer is right', async () => {
    const cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 3,
      planFile: writePlan({
        stages: [
          {
            layers: [0, 6],
            host: 'agent-0',
            form: 'sequence-parallel',
            members: [
              { agent: 'agent-0', heads: [0, 1], ffnColumns: [[0, 500]] },
              { agent: 'agent-1', heads: [2], ffnColumns: [[500, 800]] },
              { agent: 'agent-2', heads: [3], ffnColumns: [[800, 1024]] },
            ],
          },
        ],
      }),
    });
    try {
      const repaired = await killMemberMidTraffic(cluster, reference, SENTENCES.slice(0, 40), 'agent-2');
      assert.equal(repaired.stages[0]!.form, 'sequence-parallel');
      assert.deepEqual(
        repaired.stages[0]!.members.map((m) => m.agentId),
        ['agent-0', 'agent-1'],
      );
    } finally {
      await cluster.stop();
    }
  });
});
