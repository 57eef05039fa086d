/** How a client sees one classify request during a fault-injection run. */
export type Outcome = 'answered' | 'degraded' | 'failedRetryable' | 'lost' | 'wrong';

export interface OutcomeCounts {
  /** Answered with the reference's label and score (within 1e-4), or unchecked. */
  answered: number;
  /** Answered from an early exit because later stages failed (flagged degraded). */
  degraded: number;
  /** Explicit retryable errors (503 with Retry-After). */
  failedRetryable: number;
  /** Neither an answer nor an explicit retryable error: dropped connections, other errors, wrong answers. */
  lost: number;
  /** Answers that differ from the reference (also counted as lost). */
  wrong: number;
}

export function countOutcome(counts: OutcomeCounts, outcome: Outcome): void {
  counts[outcome]++;
  if (outcome === 'wrong') counts.lost++;
}

/**
 * Sends one classify request and judges the answer; `responded` is false when no HTTP answer came
 * at all (the connection failed). Never throws.
 */
export async function classifyOutcome(
  url: string,
  text: string,
  options: {
    parameters?: Record<string, unknown>;
    expected?: { label: string; score: number };
    timeoutMs?: number;
  } = {},
): Promise<{ outcome: Outcome; responded: boolean }> {
  let res: Response;
  try {
    res = await fetch(`${url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: text, ...(options.parameters && { parameters: options.parameters }) }),
      ...(options.timeoutMs && { signal: AbortSignal.timeout(options.timeoutMs) }),
    });
  } catch {
    return { outcome: 'lost', responded: false };
  }
  try {
    if (res.status === 503 && res.headers.get('retry-after')) {
      await res.arrayBuffer();
      return { outcome: 'failedRetryable', responded: true };
    }
    if (res.status !== 200) {
      await res.arrayBuffer();
      return { outcome: 'lost', responded: true };
    }
    const body = (await res.json()) as { label: string; score: number }[][];
    if (res.headers.get('x-edgerelay-degraded') === 'true') return { outcome: 'degraded', responded: true };
    const top = body[0]![0]!;
    const { expected } = options;
    if (expected && (top.label !== expected.label || Math.abs(top.score - expected.score) > 1e-4)) {
      return { outcome: 'wrong', responded: true };
    }
    return { outcome: 'answered', responded: true };
  } catch {
    return { outcome: 'lost', responded: true };
  }
}
