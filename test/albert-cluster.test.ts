import assert from 'node:assert/strict';
import path from 'node:path';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { startSimCluster } from '../sim/index.js';
import type { PlanFile } from '../coordinator/planning/index.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';
import { decideExit, initialExitState, parseExitPolicy, softmax } from '@edgerelay/device-agent';

const ALBERT_DIR = path.resolve(process.cwd(), '../shared/fixtures/sst2-albert-6L-256H');
const TEXTS = readLabelledTsv(path.join(ALBERT_DIR, 'dev.tsv'))
  .map((e) => e.sentence)
  .slice(0, 6);
const STEPS = [6, 4, 3, 2] as const;
const POLICIES = ['patience=1', 'entropy=0.4', 'dact'];

/** Where `spec` answers on the single node's exits at this K (the same decideExit the agents call), and with what. */
function expectedAnswer(spec: string, result: ClassifyResult): { layer: number; probs: number[] } {
  const policy = parseExitPolicy(spec);
  const exitLayers = result.exits.map((e) => e.layer);
  let state = initialExitState(policy);
  for (const [k, e] of result.exits.entries()) {
    const d = decideExit(policy, state, e.probs, { layer: e.layer, exitLayers });
    state = d.state;
    if (d.exit || k === exitLayers.length - 1)
      return { layer: e.layer + 1, probs: policy.kind === 'dact' ? d.probs : e.probs };
  }
  throw new Error('unreachable');
}

interface Detail {
  exitLayer: number;
  early: boolean;
  logits: number[];
  agents: string[];
}

async function classify(url: string, inputs: string[], parameters: Record<string, unknown>) {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs, parameters: { details: true, ...parameters } }),
  });
  return { status: res.status, body: (await res.json()) as { details: Detail[]; error?: string } };
}

// The fixture plans (pipeline, HALP group, mixed) plus an uneven pipeline whose middle stage holds no step at K = 2.
const PLANS: Record<string, PlanFile> = {
  ...FIXTURE_PLANS,
  'uneven-pipeline': {
    stages: [
      { layers: [0, 2], host: 'agent-0' },
      { layers: [2, 3], host: 'agent-1' },
      { layers: [3, 5], host: 'agent-2' },
      { layers: [5, 6], host: 'agent-0' },
    ],
  },
};

describe('ALBERT on the cluster: every split gives the single-node answer, with ODE steps', function () {
  this.timeout(300_000);
  const reference = new Map<number, ClassifyResult[]>();

  before(async () => {
    const checkpoint = await loadCheckpoint(ALBERT_DIR);
    const runner = await ReferenceRunner.create(checkpoint, loadTokenizer(ALBERT_DIR), { threads: 1, maxLength: 64 });
    for (const K of STEPS) reference.set(K, await runner.classify(TEXTS, 16, K));
    await runner.release();
  });

  for (const [name, plan] of Object.entries(PLANS)) {
    it(`${name}: final logits within 1e-4 of the single node at K = ${STEPS.join(', ')}; max-prob, patience, entropy and dact answer where the single node says`, async () => {
      const cluster = await startSimCluster({ model: ALBERT_DIR, agents: 3, planFile: writePlan(plan) });
      try {
        for (const K of STEPS) {
          const { status, body } = await classify(cluster.url, TEXTS, { ode_steps: K, exit_policy: 'none' });
          assert.equal(status, 200, JSON.stringify(body));
          let worst = 0;
          TEXTS.forEach((_, i) => {
            const d = body.details[i]!;
            assert.equal(d.exitLayer, 6);
            assert.equal(d.early, false);
            const expected = reference.get(K)![i]!.exits.at(-1)!.logits;
            d.logits.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - expected[j]!))));
          });
          assert.ok(worst < 1e-4, `K=${K}: max logit difference ${worst}`);
          // With two labels the top probability is ≥ 0.5, so max-prob=0.5 answers at the first step's exit.
          const early = await classify(cluster.url, TEXTS.slice(0, 2), { ode_steps: K, exit_policy: 'max-prob=0.5' });
          const first = reference.get(K)![0]!.exits[0]!;
          assert.equal(early.body.details[0]!.exitLayer, first.layer + 1);
          early.body.details[0]!.logits.forEach((v, j) => assert.ok(Math.abs(v - first.logits[j]!) < 1e-4));
          // Every exit policy answers where, and with what, the single node's exits say it should at this K.
          for (const spec of POLICIES) {
            const { body: b } = await classify(cluster.url, TEXTS.slice(0, 3), { ode_steps: K, exit_policy: spec });
            b.details.forEach((d, i) => {
              const want = expectedAnswer(spec, reference.get(K)![i]!);
              assert.equal(d.exitLayer, want.layer, `K=${K} ${spec} row ${i}`);
              softmax(d.logits).forEach((p, j) => assert.ok(Math.abs(p - want.probs[j]!) < 1e-4, `K=${K} ${spec}`));
            });
          }
        }
        // K outside 1..L is refused before anything is sent
        const bad = await classify(cluster.url, TEXTS.slice(0, 1), { ode_steps: 7 });
        assert.equal(bad.status, 400);
        assert.match(bad.body.error ?? JSON.stringify(bad.body), /from 1 to 6/);
      } finally {
        await cluster.stop();
      }
    });
  }

  it('a deployment setting of K = 3 applies to requests that name no step count', async () => {
    const cluster = await startSimCluster({
      model: ALBERT_DIR,
      agents: 3,
      planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
      odeSteps: 3,
    });
    try {
      const { body } = await classify(cluster.url, TEXTS.slice(0, 2), { exit_policy: 'none' });
      const expected = reference.get(3)![0]!.exits.at(-1)!.logits;
      body.details[0]!.logits.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-4));
      const hops = (body.details[0] as unknown as { hops?: { layersRun: number }[] }).hops;
      if (hops)
        assert.equal(
          hops.reduce((a, h) => a + h.layersRun, 0),
          3,
        );
    } finally {
      await cluster.stop();
    }
  });
});
