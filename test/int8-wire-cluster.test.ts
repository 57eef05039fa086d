import assert from 'node:assert/strict';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { startSimCluster } from '../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';

/**
 * The documented bound (docs/planner.md, "int8 on the wire"): on the SST-2 fixture, a plan whose hidden
 * states cross a stage boundary and a three-member group (scatters and partial sums) as int8 answers with
 * final logits within INT8_LOGIT_BOUND of the float32 single-node reference (measured worst on these rows:
 * 0.004; the bound leaves 5× room). Accuracy per exit on the full dev set: docs/planner.md.
 */
const INT8_LOGIT_BOUND = 0.02;
const ROWS = 12;

describe('int8 on the wire on the SST-2 fixture (real agent processes on loopback)', function () {
  this.timeout(300_000);
  const examples = readLabelledTsv(FIXTURE_DEV).slice(0, ROWS);
  const texts = examples.map((e) => e.sentence);
  let reference: Map<string, ClassifyResult>;

  before(async () => {
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR), {
      threads: 1,
    });
    reference = new Map((await runner.classify(texts, 16)).map((r) => [r.text, r]));
    await runner.release();
  });

  it('a pipeline hop and a head group over int8 keep the final logits within the documented bound of float32', async () => {
    const cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 3,
      planFile: writePlan(FIXTURE_PLANS.mixed!),
      wireDtype: 'int8',
    });
    try {
      const res = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: texts, parameters: { details: true, exit_policy: 'none' } }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { details: { logits: number[]; exitLayer: number }[] };
      let worst = 0;
      let moved = 0;
      texts.forEach((text, i) => {
        const want = reference.get(text)!.exits.at(-1)!.logits;
        const got = body.details[i]!.logits;
        assert.equal(body.details[i]!.exitLayer, 6);
        got.forEach((v, j) => {
          const d = Math.abs(v - want[j]!);
          worst = Math.max(worst, d);
          if (d > 1e-4) moved++;
        });
        assert.equal(got.indexOf(Math.max(...got)), want.indexOf(Math.max(...want)), `label of "${text}"`);
      });
      process.stderr.write(`      int8 wire: worst final-logit difference ${worst.toFixed(4)} over ${ROWS} rows\n`);
      // The wire really was int8: the answers differ from float32 (beyond float32 noise), but within the bound.
      assert.ok(moved > 0, 'no logit moved: the int8 wire was not used');
      assert.ok(worst < INT8_LOGIT_BOUND, `worst final-logit difference ${worst}`);
    } finally {
      await cluster.stop();
    }
  });
});
