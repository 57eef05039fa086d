import type { Plan__Output as Plan } from '@edgerelay/proto';
import type { SimCluster } from '../sim/index.js';
import { sumCounters, addCounters, NO_COUNTERS, type EmulationCounters } from './emulation-check.js';
import { median } from './stats.js';

export interface Measured {
  samples: number[];
  /** the median of each round's block of requests */
  roundMedians: number[];
  counters: EmulationCounters;
  requests: number;
}

export async function classifyOnce(url: string, text: string, policy: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: text, parameters: { exit_policy: policy } }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
  return performance.now() - t0;
}

/** The data-plane bytes and emulation counters of every agent and the coordinator, summed. */
export async function agentCounters(sim: SimCluster): Promise<EmulationCounters> {
  const stats = await Promise.all(sim.agents.map((a) => sim.coordinator.agentStats(a.name)));
  const counters = sumCounters(stats);
  return { ...counters, bytesSent: counters.bytesSent + sim.coordinator.dataPlaneBytesSent };
}

/**
 * Every plan, interleaved round by round (the order reversed every other round) so that machine noise hits
 * them alike; one warm-up request after each deploy, and each agent's emulation counters read around every
 * block. The timed requests go through `texts` in turn, across plans and rounds.
 */
export async function measureInterleaved(
  sim: SimCluster,
  plans: { name: string; plan: Plan }[],
  texts: string[],
  options: { rounds: number; requests: number; policy?: string },
): Promise<Map<string, Measured>> {
  const out = new Map<string, Measured>(
    plans.map((p) => [p.name, { samples: [], roundMedians: [], counters: NO_COUNTERS, requests: 0 }]),
  );
  const policy = options.policy ?? 'none';
  let text = 0;
  for (let r = 0; r < options.rounds; r++) {
    for (const p of r % 2 ? [...plans].reverse() : plans) {
      await sim.coordinator.applyPlan(p.plan);
      await classifyOnce(sim.url, texts[0]!, policy); // warm-up: the first run after a deploy allocates
      const before = await agentCounters(sim);
      const block: number[] = [];
      for (let i = 0; i < options.requests; i++)
        block.push(await classifyOnce(sim.url, texts[text++ % texts.length]!, policy));
      const o = out.get(p.name)!;
      o.samples.push(...block);
      o.roundMedians.push(median(block));
      o.counters = addCounters(o.counters, addCounters(await agentCounters(sim), before, -1));
      o.requests += block.length;
    }
  }
  return out;
}
