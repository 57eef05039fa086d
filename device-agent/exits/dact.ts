/**
 * DACT-style halting (Eyzaguirre et al., "DACT-BERT: Differentiable Adaptive Computation Time for an
 * Efficient BERT Inference", 2021) adapted to exit heads that were trained without halting units.
 *
 * DACT keeps a running answer a and a running "still going" probability p (p₀ = 1). Step n mixes the
 * step's output y_n into the answer with weight p, then multiplies p by the halting unit h_n ∈ [0, 1]:
 *     a ← p·y_n + (1 − p)·a,    p ← p·h_n
 * (the first step, with p = 1, sets a = y_0). It halts as soon as the remaining steps can no longer
 * change argmax a. Here y_n is exit head n's probability vector and h_n comes from one of two signals:
 * - trained: the checkpoint's halting unit for that exit, h_n = sigmoid(w·pooled_n + b) on the exit
 *   head's pooled vector (`edgerelay fit-halting`, DACT's objective); the agent holding the exit runs it
 *   inside the head shard and passes the value in;
 * - entropy (the stand-in, for checkpoints without units, or forced with `dact-entropy`): the head's
 *   normalised entropy H(y_n)/log C, so a confident head shrinks p and the weight of every later head.
 *
 * The bound. Let L = a[top] − a[runner-up] after the update, d the exit heads still to come, and p the
 * updated product. p never grows, so every later head enters with weight w ≤ p. For any class c ≠ top,
 * one update gives a'[top] − a'[c] = w·(y[top] − y[c]) + (1 − w)·(a[top] − a[c]) ≥ (1 − w)·L − w, i.e.
 * L' + 1 ≥ (1 − w)(L + 1), worst at w = p. After d heads the lead is at least (1 − p)^d (L + 1) − 1, so
 * the accumulated top class can no longer be overtaken when
 *     L ≥ (1 − p)^(−d) − 1        (the bound; +∞ when p = 1 and d > 0, 0 when d = 0).
 * This is DACT's criterion (top·(1−p)^d against runner-up + 1 − (1−p)^d) made exact for the lead.
 *
 * The slack. G = (1 − p)^d (L + 1) − 1 ∈ [−1, 1] is the worst-case lead of today's top class after the
 * last head. The policy halts when G ≥ −ε, i.e. when
 *     L ≥ (1 − ε)·(1 − p)^(−d) − 1,
 * with the slack ε ∈ [0, 1] the worst-case deficit it tolerates: ε = 0 exits only when the remaining
 * heads could not change the answer (the exact bound); ε = 1 exits at the first head. DACT's published
 * test, a[top]·(1−p)^d ≥ a[runner-up] + p·d, implies ours (since 1 − (1−p)^d ≤ p·d), so ε = 0 halts
 * no later than DACT would, with the same guarantee. ε = 0 is conservative with the entropy stand-in
 * (heads rarely vote against the accumulated answer), so calibration sweeps ε for both signals. When it halts the answer is argmax a, the accumulated distribution, as in DACT.
 */
import { normalisedEntropy } from './math.js';
import type { ExitState } from './policies.js';

/** `dact` with no value: exit only when the accumulated answer provably cannot change. */
export const DACT_DEFAULT_SLACK = 0;

export function initialDactState(): ExitState {
  return { acc: [], p: 1 };
}

/**
 * (1 − ε)(1 − p)^(−d) − 1: the lead the accumulated top class needs to halt with d heads to come,
 * after this head left the weight p (ε = 0: the largest lead those heads could take away).
 */
export function dactBound(p: number, remaining: number, slack = 0): number {
  if (remaining === 0) return 0;
  if (slack >= 1) return -1;
  if (p >= 1) return Infinity;
  return (1 - slack) * Math.pow(1 - p, -remaining) - 1;
}

/** The halting test itself: lead ≥ bound (so exactly at the bound it halts). */
export function dactHalts(lead: number, p: number, remaining: number, slack: number): boolean {
  return lead >= dactBound(p, remaining, slack);
}

export type HaltingSignal = 'trained' | 'entropy';

export interface DactStep {
  halt: boolean;
  /** Which h_n this step used. */
  signal: HaltingSignal;
  state: ExitState;
  /** The accumulated distribution a after this head. */
  accumulated: number[];
  /** a[top] − a[runner-up] after this head. */
  lead: number;
  bound: number;
}

/**
 * One head's update; `remaining` is the number of exit heads after this one. `halting` is the trained
 * unit's h_n for this head (undefined: use the entropy stand-in). The final head needs no h (nothing
 * comes after it), so it always reports the signal of the heads before it.
 */
export function dactStep(
  state: ExitState,
  probs: number[],
  remaining: number,
  slack: number,
  halting?: number,
): DactStep {
  const prev = Array.isArray(state.acc) ? state.acc : [];
  const p = typeof state.p === 'number' ? state.p : 1;
  const accumulated = prev.length === probs.length ? probs.map((y, c) => p * y + (1 - p) * prev[c]!) : [...probs];
  // The last head has no unit (nothing follows it to weigh); it reports the signal the earlier heads used.
  const trained = halting !== undefined || (remaining === 0 && state.trained === 1);
  const h = halting !== undefined ? clamp01(halting) : normalisedEntropy(probs);
  const nextP = p * h;
  const lead = topTwoGap(accumulated);
  const bound = dactBound(nextP, remaining, slack);
  const next: ExitState = trained ? { acc: accumulated, p: nextP, trained: 1 } : { acc: accumulated, p: nextP };
  return { halt: lead >= bound, signal: trained ? 'trained' : 'entropy', state: next, accumulated, lead, bound };
}

/** A unit's sigmoid is in [0, 1] already; the clamp only guards against rounding (decideExit rejects NaN). */
function clamp01(h: number): number {
  return Math.min(1, Math.max(0, h));
}

function topTwoGap(values: number[]): number {
  let first = -Infinity;
  let second = -Infinity;
  for (const v of values) {
    if (v > first) {
      second = first;
      first = v;
    } else if (v > second) second = v;
  }
  return values.length < 2 ? Infinity : first - second;
}
