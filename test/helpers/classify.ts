import assert from 'node:assert/strict';
import type { ClassifyResult } from '../../coordinator/reference/index.js';
import { runChaos } from '../../sim/chaos.js';
import type { SimCluster } from '../../sim/index.js';

/** One text's answer with `details: true`: where it exited and which agents it crossed. */
export interface Detail {
  exitLayer: number;
  early: boolean;
  agents: string[];
  logits: number[];
}

/** POST /v1/classify with details; fails the test on any status but 200. */
export async function classifyDetailed(
  url: string,
  inputs: string | string[],
  parameters: Record<string, unknown> = {},
): Promise<{ results: { label: string; score: number }[][]; details: Detail[] }> {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs, parameters: { details: true, ...parameters } }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { results: { label: string; score: number }[][]; details: Detail[] };
}

/**
 * 90 requests at concurrency 6 over the first 40 texts, `victim` killed after 30: none lost, none wrong, at least
 * 88 answered, and a repaired plan without the victim. Returns the repaired plan for form-specific checks.
 */
export async function killMemberMidTraffic(
  cluster: SimCluster,
  reference: Map<string, ClassifyResult>,
  texts: string[],
  victim: string,
) {
  const expected = new Map(texts.map((t) => [t, { label: reference.get(t)!.label, score: reference.get(t)!.score }]));
  const report = await runChaos(cluster, {
    texts,
    requests: 90,
    concurrency: 6,
    failAfter: 30,
    failure: 'kill',
    victim,
    expected,
  });
  assert.equal(report.wrong, 0, JSON.stringify(report));
  assert.equal(report.lost, 0, JSON.stringify(report));
  assert.equal(report.answered + report.degraded + report.failedRetryable, 90);
  assert.ok(report.answered >= 88, `only ${report.answered} of 90 answered: ${JSON.stringify(report)}`);
  const repaired = cluster.coordinator.activePlan!;
  assert.ok(repaired.version > 1);
  assert.ok(!repaired.endpoints.some((e) => e.agentId === victim));
  return repaired;
}
