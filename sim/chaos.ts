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

export interface ChaosReport {
  requests: number;
  /** Answered with the reference's label and score (within 1e-4). */
  answered: number;
  /** Answered from an early exit because later stages failed (flagged degraded). */
  degraded: number;
  /** Explicit retryable errors (503 with Retry-After). */
  failedRetryable: number;
  /** Neither an answer nor an explicit retryable error: dropped connections, 5xx other than 503, wrong answers. */
  lost: number;
  wrong: number;
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
      const res = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: text }),
      });
      const latency = performance.now() - started;
      latencies.push(latency);
      if (res.status === 503 && res.headers.get('retry-after')) {
        await res.arrayBuffer();
        report.failedRetryable++;
        return;
      }
      if (res.status !== 200) {
        await res.arrayBuffer();
        report.lost++;
        return;
      }
      const body = (await res.json()) as { label: string; score: number }[][];
      if (res.headers.get('x-edgerelay-degraded') === 'true') {
        report.degraded++;
        return;
      }
      const expected = options.expected?.get(text);
      if (expected && (body[0]![0]!.label !== expected.label || Math.abs(body[0]![0]!.score - expected.score) > 1e-4)) {
        report.wrong++;
        report.lost++;
        return;
      }
      report.answered++;
      if (sentAfterFailure && recoveredAt === undefined) recoveredAt = performance.now();
    } catch {
      report.lost++;
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
