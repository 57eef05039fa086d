import { classifyOutcome, countOutcome, type OutcomeCounts } from './outcome.js';
import type { SimCluster } from './cluster.js';

export interface ChaosOptions {
  texts: string[];
  requests: number;
  concurrency: number;
  /** Inject the failure once this many requests have completed. */
  failAfter: number;
  failure: 'kill' | 'freeze';
  victim: string;
  /** Expected top label and score per text, from the single-node reference. */
  expected?: Map<string, { label: string; score: number }>;
}

export interface ChaosReport extends OutcomeCounts {
  requests: number;
  /** From the failure until the first request sent after it was answered. */
  recoveryMs: number;
  p99Ms: number;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Runs `requests` classify calls at `concurrency` against a sim cluster and hurts one agent midway. */
export async function runChaos(cluster: SimCluster, options: ChaosOptions): Promise<ChaosReport> {
  const victim = cluster.agents.find((a) => a.name === options.victim);
  if (!victim) throw new Error(`no agent named ${options.victim}`);
  let next = 0;
  let completed = 0;
  let failedAt: number | undefined;
  let recoveredAt: number | undefined;
  const latencies: number[] = [];
  const report: ChaosReport = {
    requests: options.requests,
    answered: 0,
    degraded: 0,
    failedRetryable: 0,
    lost: 0,
    wrong: 0,
    recoveryMs: 0,
    p99Ms: 0,
  };

  const inject = () => {
    failedAt = performance.now();
    victim.child.kill(options.failure === 'kill' ? 'SIGKILL' : 'SIGSTOP');
  };

  const one = async (i: number) => {
    const text = options.texts[i % options.texts.length]!;
    const started = performance.now();
    const sentAfterFailure = failedAt !== undefined;
    try {
      const { outcome, responded } = await classifyOutcome(cluster.url, text, {
        expected: options.expected?.get(text),
      });
      if (responded) latencies.push(performance.now() - started);
      countOutcome(report, outcome);
      if (outcome === 'answered' && sentAfterFailure && recoveredAt === undefined) recoveredAt = performance.now();
    } finally {
      completed++;
      if (completed === options.failAfter && failedAt === undefined) inject();
    }
  };

  const worker = async () => {
    while (next < options.requests) await one(next++);
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  if (options.failure === 'freeze') victim.child.kill('SIGCONT');
  report.recoveryMs = failedAt !== undefined && recoveredAt !== undefined ? recoveredAt - failedAt : Number.NaN;
  report.p99Ms = percentile(latencies, 99);
  return report;
}
