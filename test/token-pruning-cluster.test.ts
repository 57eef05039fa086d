import assert from 'node:assert/strict';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { decideExit, initialExitState, parseExitPolicy, parseTokenPruning } from '@edgerelay/device-agent';
import { startSimCluster } from '../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';

interface Detail {
  exitLayer: number;
  early: boolean;
  logits: number[];
}

async function post(url: string, inputs: string | string[], parameters: Record<string, unknown>) {
  return fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs, parameters: { details: true, ...parameters } }),
  });
}

async function classify(url: string, inputs: string[], parameters: Record<string, unknown>) {
  const res = await post(url, inputs, parameters);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { results: { label: string }[][]; details: Detail[] };
}

const SPEC = 'keep=1,1,0.7,0.5,0.4,0.3';
const POLICY = 'max-prob=0.9';
const TEXTS = readLabelledTsv(FIXTURE_DEV)
  .map((e) => e.sentence)
  .slice(0, 10);

/** The single-node answer under `policy`: the first exit the policy takes, as the agents decide it. */
function expectedAnswer(r: ClassifyResult, policy: string): { layer: number; logits: number[] } {
  const p = parseExitPolicy(policy);
  let state = initialExitState(p);
  const exitLayers = r.exits.map((e) => e.layer);
  for (const e of r.exits) {
    const d = decideExit(p, state, e.probs, { layer: e.layer, exitLayers });
    state = d.state;
    // dact answers with its accumulated distribution, which travels as log-probabilities.
    if (d.exit)
      return {
        layer: e.layer + 1,
        logits: p.kind === 'dact' ? d.probs.map((q) => Math.log(Math.max(q, 1e-30))) : e.logits,
      };
  }
  throw new Error('no exit');
}

describe('token pruning on the cluster (real agent processes on loopback)', function () {
  this.timeout(300_000);
  let pruned: Map<string, ClassifyResult>;
  let unpruned: Map<string, ClassifyResult>;

  before(async () => {
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR), {
      threads: 1,
    });
    pruned = new Map((await runner.classify(TEXTS, 16, undefined, parseTokenPruning(SPEC))).map((r) => [r.text, r]));
    unpruned = new Map((await runner.classify(TEXTS, 16)).map((r) => [r.text, r]));
    await runner.release();
    // The schedule must actually change something, or the comparison below proves nothing.
    const moved = TEXTS.some(
      (t) => Math.abs(pruned.get(t)!.exits.at(-1)!.logits[0]! - unpruned.get(t)!.exits.at(-1)!.logits[0]!) > 1e-3,
    );
    assert.ok(moved, 'pruning changed no logit');
  });

  const cases: [string, 'float32' | 'float16'][] = [
    ['pipeline-only', 'float32'],
    ['group-only', 'float32'],
    ['mixed', 'float32'],
    ['mixed', 'float16'],
  ];
  for (const [name, wireDtype] of cases) {
    it(`${name} plan, ${wireDtype} wire: pruned answers equal the single-node pruned run, under every exit policy`, async () => {
      const cluster = await startSimCluster({
        model: FIXTURE_DIR,
        agents: 3,
        planFile: writePlan(FIXTURE_PLANS[name]!),
        wireDtype,
      });
      const tolerance = wireDtype === 'float16' ? 2e-2 : 1e-4;
      try {
        for (const policy of ['none', POLICY, 'patience=1', 'entropy=0.5', 'dact']) {
          const body = await classify(cluster.url, TEXTS, { token_pruning: SPEC, exit_policy: policy });
          let worst = 0;
          TEXTS.forEach((text, i) => {
            const expected = expectedAnswer(pruned.get(text)!, policy);
            const d = body.details[i]!;
            assert.equal(d.exitLayer, expected.layer, `${text} (${policy})`);
            d.logits.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - expected.logits[j]!))));
            const argmax = expected.logits.indexOf(Math.max(...expected.logits));
            assert.equal(d.logits.indexOf(Math.max(...d.logits)), argmax, text);
          });
          assert.ok(worst < tolerance, `${policy}: max logit difference ${worst}`);
        }
        // Without the parameter nothing is pruned: the unpruned answers.
        const plain = await classify(cluster.url, TEXTS.slice(0, 3), { exit_policy: 'none' });
        TEXTS.slice(0, 3).forEach((text, i) =>
          plain.details[i]!.logits.forEach((v, j) =>
            assert.ok(Math.abs(v - unpruned.get(text)!.exits.at(-1)!.logits[j]!) < tolerance),
          ),
        );
      } finally {
        await cluster.stop();
      }
    });
  }

  it('answers 400 with what to write for a malformed schedule, or one that does not fit the model', async () => {
    const cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 3,
      planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
    });
    try {
      const cases: [unknown, RegExp][] = [
        ['keep=1,1.5', /parameters\.token_pruning: .*outside \(0, 1\]/],
        ['keep=1,0.5,0.7,0.5,0.5,0.5', /must not increase/],
        ['fast', /keep=R0,R1/],
        [0.5, /must be a string/],
        ['keep=1,0.5', /lists 2 ratios but the model has 6 layers/],
      ];
      for (const [value, message] of cases) {
        const res = await post(cluster.url, TEXTS[0]!, { token_pruning: value });
        assert.equal(res.status, 400, String(value));
        assert.match(((await res.json()) as { error: string }).error, message);
      }
      assert.equal((await post(cluster.url, TEXTS[0]!, { token_pruning: 'none' })).status, 200);
    } finally {
      await cluster.stop();
    }
  });
});
