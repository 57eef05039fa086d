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
import { positionOrder, positionRows, positionTiles } from '@edgerelay/proto';

const SENTENCES = readLabelledTsv(FIXTURE_DEV).map((e) => e.sentence);

/**
 * A position-parallel member of the fixture (4 heads, 1024 FFN columns): it holds whole layers, and owns a share of
 * the positions relative to the other members' (even when no member has one).
 */
const whole = (agent: string, positionShare?: number) => ({
  agent,
  heads: [0, 1, 2, 3],
  ffnColumns: [[0, 1024]] as [number, number][],
  ...(positionShare !== undefined && { positionShare }),
});

/**
 * Position-parallel groups of 2, 3 and 4 members; agents meet in several groups, and two stages' hosts are not the
 * first member listed (the host always owns the first positions). Stage 1 splits the positions evenly, stages 2
 * and 3 by uneven shares, as the planner sizes them to unequal devices; agent-0's share in stage 3 is so small that
 * on the shorter texts it owns no position at all.
 */
const THREE_GROUPS: PlanFile = {
  stages: [
    { layers: [0, 2], host: 'agent-0', form: 'position-parallel', members: [whole('agent-0'), whole('agent-1')] },
    {
      layers: [2, 4],
      host: 'agent-2',
      form: 'position-parallel',
      members: [whole('agent-1', 1), whole('agent-2', 3), whole('agent-3', 0.5)],
    },
    {
      layers: [4, 6],
      host: 'agent-3',
      form: 'position-parallel',
      members: [whole('agent-0', 0.1), whole('agent-1', 2), whole('agent-2', 1), whole('agent-3', 1)],
    },
  ],
};

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

describe('position-parallel groups (real agent processes)', function () {
  this.timeout(300_000);
  let reference: Map<string, ClassifyResult>;
  let pruned: Map<string, ClassifyResult>;
  const PRUNING = 'keep=1,1,0.7,0.5,0.4,0.3';

  before(async () => {
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR), {
      threads: 1,
    });
    reference = new Map((await runner.classify(SENTENCES.slice(0, 40), 16)).map((r) => [r.text, r]));
    const schedule = parseTokenPruning(PRUNING);
    pruned = new Map((await runner.classify(SENTENCES.slice(16, 19), 16, undefined, schedule)).map((r) => [r.text, r]));
    await runner.release();
  });

  describe('groups of 2, 3 and 4 members', () => {
    let cluster: SimCluster;
    before(async () => {
      // Small transfers: the fixture's texts are short, and keys and values then travel in several chunks.
      process.env.EDGERELAY_SEQ_CHUNK_ROWS = '2';
      try {
        cluster = await startSimCluster({ model: FIXTURE_DIR, agents: 4, planFile: writePlan(THREE_GROUPS) });
      } finally {
        delete process.env.EDGERELAY_SEQ_CHUNK_ROWS;
      }
    });
    after(async () => cluster?.stop());

    it('the deployed plan keeps the position-parallel form and the position shares of every group', () => {
      assert.deepEqual(
        cluster.plan.stages.map((s) => s.form),
        ['position-parallel', 'position-parallel', 'position-parallel'],
      );
      assert.deepEqual(
        cluster.plan.stages.map((s) => s.members.map((m) => m.positionShare)),
        [
          [undefined, undefined],
          [1, 3, 0.5],
          [0.1, 2, 1, 1],
        ],
      );
    });

    it('exchanging keys and values gives the reference logits within 1e-4 (float32), every member taking part', async () => {
      const texts = SENTENCES.slice(0, 8);
      // Stage 3 in position order (the host, agent-3, first): some texts must leave agent-0 without a position.
      const tokenizer = loadTokenizer(FIXTURE_DIR);
      const agent0Rows = texts.map((t) => {
        const [a, b] = positionRows(tokenizer.encode(t, 128).ids.length, [1, 0.1, 2, 1])[1]!;
        return b - a;
      });
      assert.ok(agent0Rows.includes(0) && agent0Rows.some((n) => n > 0), `agent-0's positions: ${agent0Rows}`);
      const bodies = await Promise.all(texts.map((t) => classify(cluster.url, t)));
      let worst = 0;
      bodies.forEach((b, i) => {
        assert.equal(b.details[0]!.exitLayer, 6);
        worst = Math.max(worst, maxDiff(b.details[0]!.logits, reference.get(texts[i]!)!.exits.at(-1)!.logits));
      });
      assert.ok(worst < 1e-4, `max logit difference ${worst}`);
      const stats = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
      // As members (not host), per text: agent-0 in stage 3 (where it owns positions), agent-1 in all three,
      // agent-2 in stage 3, agent-3 in 2.
      assert.deepEqual(
        stats.map((s) => s!.seqMemberRuns),
        [agent0Rows.filter((n) => n > 0).length, 24, 8, 8],
      );
    });

    it('an exit inside a group stage answers from the host’s own positions, and the members stop quietly', async () => {
      // With two labels the top probability is always ≥ 0.5: every request exits after layer 1, inside stage 1.
      const early = await classify(cluster.url, SENTENCES.slice(8, 12), { exit_threshold: 0.5 });
      early.details.forEach((d, i) => {
        assert.equal(d.exitLayer, 1);
        assert.ok(maxDiff(d.logits, reference.get(SENTENCES[8 + i]!)!.exits[0]!.logits) < 1e-4);
      });
      const full = await classify(cluster.url, SENTENCES.slice(12, 16));
      full.details.forEach((d, i) =>
        assert.ok(maxDiff(d.logits, reference.get(SENTENCES[12 + i]!)!.exits.at(-1)!.logits) < 1e-4),
      );
      const stats = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
      assert.deepEqual(
        stats.map((s) => s!.failures),
        [0, 0, 0, 0],
      );
    });

    it('members that run each layer tile by tile (2, 3 and 5 tiles a stage) give the reference logits within 1e-4, one position layer per tile', async () => {
      const texts = SENTENCES.slice(20, 26);
      const tokenizer = loadTokenizer(FIXTURE_DIR);
      const original = cluster.plan;
      const tiles = [2, 3, 5];
      const runs = () =>
        Promise.all(cluster.agents.map(async (a) => (await cluster.coordinator.agentStats(a.name))!.partialRuns));
      try {
        const deployed = await cluster.coordinator.applyPlan({
          ...original,
          stages: original.stages.map((s, i) => ({ ...s, positionTiles: tiles[i] })),
        });
        assert.deepEqual(
          deployed.stages.map((s) => s.positionTiles),
          tiles,
        );
        const before = await runs();
        const bodies = await Promise.all(texts.map((t) => classify(cluster.url, t)));
        bodies.forEach((b, i) =>
          assert.ok(maxDiff(b.details[0]!.logits, reference.get(texts[i]!)!.exits.at(-1)!.logits) < 1e-4),
        );
        // Each member runs every layer but its stage's last once per tile of its positions, the last one whole.
        const expected = new Map(cluster.agents.map((a) => [a.name, 0]));
        let untiled = 0;
        for (const text of texts) {
          const seq = tokenizer.encode(text, 128).ids.length;
          for (const stage of deployed.stages) {
            const order = positionOrder(stage);
            positionRows(
              seq,
              order.map((m) => m.positionShare),
            ).forEach((range, k) => {
              if (range[1] === range[0]) return;
              const perLayer = positionTiles(range, stage.positionTiles).length;
              const agent = order[k]!.agentId;
              expected.set(agent, expected.get(agent)! + (stage.layerEnd - stage.layerStart - 1) * perLayer + 1);
              untiled += stage.layerEnd - stage.layerStart;
            });
          }
        }
        const after = await runs();
        assert.deepEqual(
          after.map((n, i) => n - before[i]!),
          [...expected.values()],
        );
        const tiled = [...expected.values()].reduce((a, b) => a + b);
        assert.ok(tiled > untiled, `tiled members run ${tiled} position layers, untiled ${untiled}`);
      } finally {
        await cluster.coordinator.applyPlan(original);
      }
    });

    it('a token-pruning request runs each stage on its host alone and gives the single-node pruned answer', async () => {
      const before = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
      const texts = [...pruned.keys()];
      const last = (r: ClassifyResult) => r.exits.at(-1)!.logits[0]!;
      assert.ok(
        texts.some((t) => Math.abs(last(pruned.get(t)!) - last(reference.get(t)!)) > 1e-3),
        'the schedule must change an answer, or this proves nothing',
      );
      const body = await classify(cluster.url, texts, { token_pruning: PRUNING, exit_policy: 'none' });
      body.details.forEach((d, i) =>
        assert.ok(maxDiff(d.logits, pruned.get(texts[i]!)!.exits.at(-1)!.logits) < 1e-4, `${d.logits}`),
      );
      const after = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
      assert.deepEqual(
        after.map((s) => s!.seqMemberRuns),
        before.map((s) => s!.seqMemberRuns),
        'no member took part',
      );
    });
  });

  it('a member killed mid-layer loses no request: the plan is repaired over the survivors, every answer right', async () => {
    const cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 3,
      planFile: writePlan({
        stages: [
          {
            layers: [0, 6],
            host: 'agent-0',
            form: 'position-parallel',
            members: [whole('agent-0'), whole('agent-1'), whole('agent-2')],
          },
        ],
      }),
    });
    try {
      const repaired = await killMemberMidTraffic(cluster, reference, SENTENCES.slice(0, 40), 'agent-2');
      assert.equal(repaired.stages[0]!.form, 'position-parallel');
      assert.deepEqual(
        repaired.stages[0]!.members.map((m) => m.agentId),
        ['agent-0', 'agent-1'],
      );
    } finally {
      await cluster.stop();
    }
  });
});
