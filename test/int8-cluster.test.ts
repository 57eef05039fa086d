import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { convertCheckpoint, loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startSimCluster } from '../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';

const TEXTS = readLabelledTsv(FIXTURE_DEV)
  .map((e) => e.sentence)
  .slice(0, 4);

/**
 * A HALP group's members quantize their own share of the attention context and FFN activations, so a split
 * int8 layer differs from the whole one by activation rounding only: well inside the documented 0.06 bound.
 */
const GROUP_TOLERANCE = 0.02;

describe('an int8 model on the cluster', function () {
  this.timeout(300_000);
  let dir: string;
  let reference: ClassifyResult[];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-int8-cluster-'));
    await convertCheckpoint(FIXTURE_DIR, dir, 'int8');
    const runner = await ReferenceRunner.create(await loadCheckpoint(dir), loadTokenizer(dir), { threads: 1 });
    // One text per batch, as the cluster runs them: int8 activation scales span the whole batch tensor.
    reference = await runner.classify(TEXTS, 1);
    await runner.release();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a pipeline stage and a HALP group of agents answer as the single node does, at the last exit and early', async () => {
    const cluster = await startSimCluster({ model: dir, agents: 3, planFile: writePlan(FIXTURE_PLANS.mixed!) });
    try {
      const res = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: TEXTS, parameters: { details: true, exit_policy: 'none' } }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { details: { exitLayer: number; logits: number[]; label: string }[] };
      body.details.forEach((d, i) => {
        assert.equal(d.exitLayer, 6);
        const expected = reference[i]!.exits.at(-1)!;
        d.logits.forEach((v, j) =>
          assert.ok(Math.abs(v - expected.logits[j]!) < GROUP_TOLERANCE, `row ${i}: ${v} vs ${expected.logits[j]}`),
        );
      });
      // max-prob=0.5 answers at the first exit, on the pipeline stage: no group involved, the same shards.
      const early = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: TEXTS.slice(0, 1), parameters: { details: true, exit_policy: 'max-prob=0.5' } }),
      });
      const first = ((await early.json()) as { details: { exitLayer: number; logits: number[] }[] }).details[0]!;
      assert.equal(first.exitLayer, 1);
      first.logits.forEach((v, j) => {
        const want = reference[0]!.exits[0]!.logits[j]!;
        assert.ok(Math.abs(v - want) < 1e-4, `early: ${v} vs ${want}`);
      });
    } finally {
      await cluster.stop();
    }
  });
});
