import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calibrate, parseTarget } from '../coordinator/calibration/index.js';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { decideExit, initialExitState, parseExitPolicy } from '../device-agent/exits/policies.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';
import { fixtureWithUnits, randomUnits } from './helpers/halting.js';

const SENTENCES = readLabelledTsv(FIXTURE_DEV).map((e) => e.sentence);

/** Where the policy stops on the single-node reference's per-exit probabilities (1-based layer). */
function expectedExit(policySpec: string, result: ClassifyResult): number {
  const policy = parseExitPolicy(policySpec);
  let state = initialExitState(policy);
  const exitLayers = result.exits.map((e) => e.layer);
  for (const e of result.exits) {
    const d = decideExit(policy, state, e.probs, {
      layer: e.layer,
      exitLayers,
      ...(e.halting !== undefined && { halting: e.halting }),
    });
    state = d.state;
    if (d.exit) return e.layer + 1;
  }
  return exitLayers.at(-1)! + 1;
}

async function classify(url: string, text: string, parameters: Record<string, unknown> = {}) {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: text, parameters: { details: true, ...parameters } }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { details: { exitLayer: number; agents: string[]; halting?: string }[] }).details[0]!;
}

describe('exit policies across stage boundaries (real agent processes)', function () {
  this.timeout(240_000);
  let reference: Map<string, ClassifyResult>;
  let cluster: SimCluster;

  before(async () => {
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR), {
      threads: 1,
    });
    reference = new Map((await runner.classify(SENTENCES, 32)).map((r) => [r.text, r]));
    await runner.release();
    // Exits after layers 1-2 run on agent-0, 3-4 on agent-1, 5-6 on agent-2: every policy's state crosses devices.
    cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 3,
      planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
    });
  });
  after(async () => cluster?.stop());

  for (const policy of ['max-prob=0.97', 'entropy=0.15', 'patience=2', 'patience=4', 'dact', 'dact=0.5']) {
    it(`${policy}: every request exits where the single-node decision says`, async () => {
      const texts = SENTENCES.slice(0, 40);
      const layers = await Promise.all(
        texts.map(async (t) => (await classify(cluster.url, t, { exit_policy: policy })).exitLayer),
      );
      const expected = texts.map((t) => expectedExit(policy, reference.get(t)!));
      assert.deepEqual(layers, expected);
    });
  }

  it('rejects an unknown policy with a 400 naming the accepted forms', async () => {
    const res = await fetch(`${cluster.url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: 'x', parameters: { exit_policy: 'sometimes' } }),
    });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /max-prob=P/);
  });
});

describe('DACT with trained halting units across stage boundaries (real agent processes)', function () {
  this.timeout(240_000);
  let dir: string;
  let reference: Map<string, ClassifyResult>;
  let cluster: SimCluster;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-dact-units-'));
    // Units whose h varies from text to text, so requests halt at every stage; the same file serves both runs.
    const model = fixtureWithUnits(path.join(dir, 'model'), randomUnits(42));
    const runner = await ReferenceRunner.create(await loadCheckpoint(model), loadTokenizer(model), { threads: 1 });
    reference = new Map((await runner.classify(SENTENCES.slice(0, 40), 32)).map((r) => [r.text, r]));
    await runner.release();
    cluster = await startSimCluster({ model, agents: 3, planFile: writePlan(FIXTURE_PLANS['pipeline-only']!) });
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const policy of ['dact', 'dact=0.5', 'dact=0.9', 'dact-entropy=0.5']) {
    it(`${policy}: every request exits where the single-node run with the same units says, and reports its halting signal`, async () => {
      const texts = SENTENCES.slice(0, 40);
      const details = await Promise.all(texts.map((t) => classify(cluster.url, t, { exit_policy: policy })));
      const expected = texts.map((t) => expectedExit(policy, reference.get(t)!));
      assert.deepEqual(
        details.map((d) => d.exitLayer),
        expected,
      );
      const signal = policy.startsWith('dact-entropy') ? 'entropy' : 'trained';
      assert.ok(
        details.every((d) => d.halting === signal),
        JSON.stringify(details.map((d) => d.halting)),
      );
    });
  }

  it('the units make requests halt in more than one stage, so the state really crosses devices', () => {
    const layers = new Set(SENTENCES.slice(0, 40).map((t) => expectedExit('dact=0.5', reference.get(t)!)));
    assert.ok(
      [...layers].some((l) => l <= 2) && [...layers].some((l) => l > 2),
      `exit layers ${[...layers].join(', ')}`,
    );
  });
});

describe('a calibrated deployment in the distributed runtime', function () {
  this.timeout(300_000);
  it("the share of requests that never reach the last stage matches calibration's prediction within 5 points", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-calibration-'));
    let cluster: SimCluster | undefined;
    try {
      const out = path.join(dir, 'calibration.json');
      const { record } = await calibrate({
        model: FIXTURE_DIR,
        data: FIXTURE_DEV,
        target: parseTarget('accuracy-drop=0.005'),
        out,
        plot: path.join(dir, 'c.png'),
      });
      cluster = await startSimCluster({
        model: FIXTURE_DIR,
        agents: 3,
        planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
        exitPolicy: 'calibrated',
        calibrationFile: out,
      });
      // The last stage holds layers 5-6: a request never reaches it when it exits at layer 4 or earlier.
      const predicted = record.exitRates.slice(0, 4).reduce((a, b) => a + b, 0);
      let next = 0;
      let skipped = 0;
      const worker = async () => {
        while (next < SENTENCES.length) {
          const d = await classify(cluster!.url, SENTENCES[next++]!);
          if (!d.agents.includes('agent-2')) skipped++;
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const measured = skipped / SENTENCES.length;
      assert.ok(Math.abs(measured - predicted) <= 0.05, `measured ${measured}, calibration predicted ${predicted}`);
      assert.ok(measured > 0.5, 'the calibrated policy should keep most requests off the last stage');
      const last = await cluster.coordinator.agentStats('agent-2');
      assert.equal(last.stageRuns, SENTENCES.length - skipped);
    } finally {
      await cluster?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
