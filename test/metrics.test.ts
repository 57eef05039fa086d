import assert from 'node:assert/strict';

import parsePrometheusTextFormat from 'parse-prometheus-text-format';

import { startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DIR } from './helpers/fixture.js';
import { writePlan } from './helpers/plans.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { edgerelay } from './helpers/cli.js';
import type { ClusterView } from '../coordinator/daemon/cluster-view.js';
import { CoordinatorMetrics, type MetricsSources } from '../coordinator/metrics/index.js';

const API_KEY = 'metrics-test-key';
const auth = { authorization: `Bearer ${API_KEY}` };

type Families = ReturnType<typeof parsePrometheusTextFormat>;

async function scrape(cluster: SimCluster): Promise<Families> {
  const res = await fetch(`${cluster.url}/metrics`, { headers: auth });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(await res.text());
}

function family(families: Families, name: string) {
  const found = families.find((f) => f.name === name);
  assert.ok(found, `metric ${name} is missing`);
  return found;
}

function sum(families: Families, name: string, where: Record<string, string> = {}): number {
  return family(families, name)
    .metrics.filter((m) => Object.entries(where).every(([k, v]) => m.labels?.[k] === v))
    .reduce((total, m) => total + Number(m.value), 0);
}

/**
 * Observations of a histogram that has one label set: this parser merges the buckets of labelled
 * histograms into one map (and drops their labels), which is exact only while a single series exists.
 */
function histogramCount(families: Families, name: string): number {
  const f = family(families, name);
  assert.equal(f.type, 'HISTOGRAM');
  assert.equal(f.metrics.length, 1);
  return Number(f.metrics[0]!.buckets!['+Inf']);
}

const TEXTS = [
  'a gorgeous , witty , seductive movie .',
  'the plot is nothing but boilerplate clichés from start to finish ,',
  'it is a bit long but worth it',
  'an utterly incompetent conclusion',
  'one of the best films of the year',
  'i fell asleep twice',
];

describe('Prometheus metrics at GET /metrics on a running cluster', function () {
  this.timeout(180_000);
  let cluster: SimCluster;

  before(async function () {
    cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 2,
      threads: 1,
      logLevel: 'error',
      apiKey: API_KEY,
      exitPolicy: 'max-prob=0.9',
      // Both agents hold a stage, so killing one is a failure the coordinator must repair.
      planFile: writePlan({
        stages: [
          { layers: [0, 3], host: 'agent-0' },
          { layers: [3, 6], host: 'agent-1' },
        ],
      }),
    });
  });
  after(async function () {
    await cluster?.stop();
  });

  it('is behind the API key like the classify endpoint', async function () {
    assert.equal((await fetch(`${cluster.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${cluster.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  });

  it('counts every text sent, by the exit layer that answered, and times them', async function () {
    const before = await scrape(cluster);
    assert.equal(sum(before, 'edgerelay_requests_total'), 0);
    const rounds = 3;
    const answers: { exitLayer: number; early: boolean }[] = [];
    for (let r = 0; r < rounds; r++) {
      const res = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: TEXTS, parameters: { details: true } }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { details: { exitLayer: number; early: boolean }[] };
      answers.push(...body.details);
    }
    const after = await scrape(cluster);
    const sent = rounds * TEXTS.length;
    assert.equal(sum(after, 'edgerelay_requests_total'), sent);
    assert.equal(sum(after, 'edgerelay_requests_total', { outcome: 'answered' }), sent);
    const byLayer = new Map<number, number>();
    for (const a of answers) byLayer.set(a.exitLayer, (byLayer.get(a.exitLayer) ?? 0) + 1);
    for (const [layer, n] of byLayer)
      assert.equal(sum(after, 'edgerelay_requests_total', { exit_layer: String(layer) }), n, `exit layer ${layer}`);
    assert.equal(sum(after, 'edgerelay_requests_total', { early: 'true' }), answers.filter((a) => a.early).length);
    assert.equal(histogramCount(after, 'edgerelay_request_duration_seconds'), sent, 'one latency observation per text');
    assert.equal(sum(after, 'edgerelay_http_responses_total', { code: '200' }), rounds);
    // Each agent answers for its own counters over the data plane.
    const plan = cluster.coordinator.activePlan!;
    const hosts = new Set(plan.stages.map((s) => s.host));
    for (const host of hosts) assert.ok(sum(after, 'edgerelay_agent_stage_runs_total', { agent: host }) > 0, host);
    assert.equal(sum(after, 'edgerelay_agents', { state: 'serving' }), 2);
    assert.equal(sum(after, 'edgerelay_plan_version'), plan.version);
    assert.equal(sum(after, 'edgerelay_requests_in_flight'), 0);
  });

  it('observes the share of tokens kept of texts sent with a token-pruning schedule', async function () {
    const keep = [1, 1, 0.5, 0.5, 0.4, 0.4];
    const res = await fetch(`${cluster.url}/v1/classify`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: TEXTS, parameters: { details: true, token_pruning: `keep=${keep.join(',')}` } }),
    });
    assert.equal(res.status, 200);
    const { details } = (await res.json()) as { details: { exitLayer: number }[] };
    // From the schedule's definition (docs/token-pruning.md): layer l runs on max(2, ceil(keep[l] * n)) of n tokens.
    const tokenizer = loadTokenizer(FIXTURE_DIR);
    let expected = 0;
    details.forEach((d, i) => {
      const n = tokenizer.encode(TEXTS[i]!, 512).ids.length;
      let kept = 0;
      for (let l = 0; l < d.exitLayer; l++) kept += Math.min(n, Math.max(2, Math.ceil(keep[l]! * n)));
      expected += kept / (d.exitLayer * n);
    });
    const families = await scrape(cluster);
    const kept = family(families, 'edgerelay_tokens_kept_ratio').metrics[0]!;
    assert.equal(Number(kept.count), TEXTS.length);
    assert.ok(Math.abs(Number(kept.sum) - expected) < 1e-9, `${kept.sum} vs ${expected}`);
    assert.ok(expected < TEXTS.length, 'the schedule dropped tokens');
  });

  it('edgerelay status shows the agents, stages and the recent answers the metrics counted', async function () {
    const families = await scrape(cluster);
    const json = await edgerelay(['status', '--coordinator', cluster.url, '--api-key', API_KEY, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const view = JSON.parse(json.stdout) as ClusterView;
    assert.deepEqual(
      view.agents.map((a) => [a.id, a.state]),
      [
        ['agent-0', 'serving'],
        ['agent-1', 'serving'],
      ],
    );
    assert.deepEqual(
      view.stages.map((s) => [s.layers, s.host]),
      [
        [[0, 3], 'agent-0'],
        [[3, 6], 'agent-1'],
      ],
    );
    assert.equal(view.recent.requests, sum(families, 'edgerelay_requests_total'));
    assert.equal(view.planVersion, sum(families, 'edgerelay_plan_version'));
    const text = await edgerelay(['status', '--coordinator', cluster.url, '--api-key', API_KEY]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /agent-0\s+serving/);
    assert.match(text.stdout, /recent 24 requests: p50 [\d.]+ ms/);
    const refused = await edgerelay(['status', '--coordinator', cluster.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /needs the cluster's API key: pass --api-key/);
  });

  it('marks a killed agent of the plan down and counts the repair', async function () {
    const victim = cluster.agents[1]!;
    victim.child.kill('SIGKILL');
    let families: Families | undefined;
    for (let i = 0; i < 150; i++) {
      families = await scrape(cluster);
      if (sum(families, 'edgerelay_plans_activated_total', { kind: 'repair' }) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(sum(families!, 'edgerelay_plans_activated_total', { kind: 'repair' }), 1);
    assert.ok(sum(families!, 'edgerelay_plan_failures_total') >= 1);
    assert.equal(sum(families!, 'edgerelay_agents', { state: 'serving' }), 1);
  });
});

describe('the coordinator metrics registry', function () {
  const sources: MetricsSources = {
    inFlight: () => 0,
    planVersion: () => 3,
    agents: () => [],
    links: () => [],
    dataPlaneBytesSent: () => 0,
    shardBytesSent: () => [],
    agentStats: async () => [],
  };

  it('counts texts by the ODE steps they ran with, and keeps two coordinators apart', async function () {
    const a = new CoordinatorMetrics(sources);
    const b = new CoordinatorMetrics(sources);
    const outcome = {
      scores: [{ label: 'positive', score: 0.9 }],
      logits: [0, 1],
      exitLayer: 6,
      early: false,
      agents: ['agent-0'],
      totalMs: 12,
      hops: [],
      odeSteps: 3,
    };
    a.observeOutcome(outcome);
    a.observeOutcome({ ...outcome, odeSteps: 2 });
    a.observeOutcome({ ...outcome, odeSteps: 3 });
    const steps = parsePrometheusTextFormat(await a.text()).find(
      (f) => f.name === 'edgerelay_requests_by_ode_steps_total',
    )!;
    assert.deepEqual(Object.fromEntries(steps.metrics.map((m) => [m.labels!.steps, Number(m.value)])), {
      '2': 1,
      '3': 2,
    });
    const other = parsePrometheusTextFormat(await b.text()).find((f) => f.name === 'edgerelay_requests_total')!;
    assert.equal(other.metrics.length, 0, 'the second registry saw nothing');
  });
});
