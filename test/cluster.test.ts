import assert from 'node:assert/strict';
import { InferenceClient } from '@huggingface/inference';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { classifyDetailed as classify } from './helpers/classify.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';

const SENTENCES = readLabelledTsv(FIXTURE_DEV).map((e) => e.sentence);

describe('distributed runtime (real agent processes on loopback)', function () {
  this.timeout(180_000);
  let reference: Map<string, ClassifyResult>;

  before(async () => {
    const checkpoint = await loadCheckpoint(FIXTURE_DIR);
    const runner = await ReferenceRunner.create(checkpoint, loadTokenizer(FIXTURE_DIR), { threads: 1 });
    const results = await runner.classify(SENTENCES.slice(0, 64), 16);
    await runner.release();
    reference = new Map(results.map((r) => [r.text, r]));
  });

  for (const [name, plan] of Object.entries(FIXTURE_PLANS)) {
    it(`${name} plan: logits equal the single-node reference within 1e-4`, async () => {
      const cluster = await startSimCluster({ model: FIXTURE_DIR, agents: 3, planFile: writePlan(plan) });
      try {
        const texts = SENTENCES.slice(0, 12);
        const body = await classify(cluster.url, texts);
        let worst = 0;
        texts.forEach((text, i) => {
          const expected = reference.get(text)!.exits.at(-1)!.logits;
          const d = body.details[i]!;
          assert.equal(d.exitLayer, 6);
          assert.equal(d.early, false);
          d.logits.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - expected[j]!))));
          assert.equal(body.results[i]![0]!.label, reference.get(text)!.label);
        });
        assert.ok(worst < 1e-4, `max logit difference ${worst}`);
        // Every agent of the plan took part.
        const visited = new Set(body.details.flatMap((d) => d.agents));
        assert.deepEqual([...visited].sort(), ['agent-0', 'agent-1', 'agent-2']);
      } finally {
        await cluster.stop();
      }
    });
  }

  describe('a 3-stage pipeline with early exit', () => {
    let cluster: SimCluster;
    before(async () => {
      cluster = await startSimCluster({
        model: FIXTURE_DIR,
        agents: 3,
        planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
      });
    });
    after(async () => cluster?.stop());

    it('when the first exit is confident, later stages record zero executions', async () => {
      // With two labels the top probability is always ≥ 0.5, so this threshold always fires at layer 1.
      const texts = SENTENCES.slice(0, 10);
      const body = await classify(cluster.url, texts, { exit_threshold: 0.5 });
      for (const [i, d] of body.details.entries()) {
        assert.equal(d.exitLayer, 1);
        assert.equal(d.early, true);
        assert.deepEqual(d.agents, ['agent-0']);
        const expected = reference.get(texts[i]!)!.exits[0]!.logits;
        d.logits.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-4));
      }
      const [first, second, third] = await Promise.all(
        ['agent-0', 'agent-1', 'agent-2'].map((a) => cluster.coordinator.agentStats(a)),
      );
      assert.equal(first!.stageRuns, 10);
      assert.equal(first!.earlyExits, 10);
      assert.equal(second!.stageRuns, 0);
      assert.equal(third!.stageRuns, 0);
    });

    it('exits exactly where the reference says the threshold is first met', async () => {
      const threshold = 0.95;
      const texts = SENTENCES.slice(10, 40);
      const body = await classify(cluster.url, texts, { exit_threshold: threshold });
      texts.forEach((text, i) => {
        const exits = reference.get(text)!.exits;
        const expected = exits.find((e) => Math.max(...e.probs) >= threshold) ?? exits.at(-1)!;
        assert.equal(body.details[i]!.exitLayer, expected.layer + 1, text);
        assert.equal(body.results[i]![0]!.label, expected.label);
      });
      const layers = new Set(body.details.map((d) => d.exitLayer));
      assert.ok(layers.size > 1, 'the threshold should send some requests further than others');
    });

    it('answers 64 concurrent requests, each with its own correct result', async () => {
      const texts = SENTENCES.slice(0, 64);
      const bodies = await Promise.all(texts.map((t) => classify(cluster.url, t)));
      bodies.forEach((body, i) => {
        const expected = reference.get(texts[i]!)!;
        assert.equal(body.results[0]![0]!.label, expected.label);
        assert.ok(Math.abs(body.results[0]![0]!.score - expected.score) < 1e-4, texts[i]);
      });
    });

    it("works with Hugging Face's own inference client pointed at the coordinator", async () => {
      const client = new InferenceClient();
      const text = SENTENCES[3]!;
      const output = await client.textClassification({ endpointUrl: `${cluster.url}/v1/classify`, inputs: text });
      const expected = reference.get(text)!;
      assert.equal(output[0]!.label, expected.label);
      assert.ok(Math.abs(output[0]!.score - expected.score) < 1e-4);
      assert.equal(output.length, 2);
    });
  });
});
