/**
 * DACT's training objective for halting units on frozen exit heads (Eyzaguirre et al.; the recurrence
 * and the ponder cost as in the authors' DACT write-up), with its exact gradient.
 *
 * K + 1 exit heads (the last is the final classifier) give distributions y_0 … y_K; unit k (k < K)
 * reads exit k's pooled vector x_k and gives h_k = sigmoid(w_k · x_k + b_k). With p_{−1} = 1:
 *     p_k = p_{k−1} · h_k,    a_0 = y_0,    a_{k+1} = p_k · y_{k+1} + (1 − p_k) · a_k.
 * The model's answer is a_K. The objective, averaged over rows, is
 *     CE(t, a_K) + τ · ρ,    ρ = 1 + Σ_k p_k   (DACT's ponder cost, p_{−1} = 1 counted as the 1),
 * with t the one-hot label or, without labels, the final exit's distribution y_K (self-distillation).
 */
import { sigmoid } from '@edgerelay/device-agent';

export interface HaltingParams {
  hidden: number;
  /** Number of units K (every exit but the last). */
  units: number;
  /** [K × hidden] */
  weight: Float32Array;
  /** [K] */
  bias: Float32Array;
}

export interface HaltingData {
  rows: number;
  classes: number;
  hidden: number;
  /** pooled[k]: [rows × hidden], exit k's pooled vector (k < K). */
  pooled: Float64Array[];
  /** probs[k]: [rows × classes], exit k's distribution (k ≤ K). */
  probs: Float64Array[];
  /** [rows × classes] the target distribution. */
  target: Float64Array;
}

export interface HaltingObjective {
  /** Mean cross-entropy of the accumulated answer against the target. */
  task: number;
  /** Mean ρ = 1 + Σ p_k. */
  ponder: number;
  /** task + τ · ponder */
  total: number;
}

export function zeroHalting(hidden: number, units: number): HaltingParams {
  return { hidden, units, weight: new Float32Array(units * hidden), bias: new Float32Array(units) };
}

/** h_k, p_k and every a_k for one row (a has K + 1 entries). */
export function dactForwardRow(
  params: HaltingParams,
  data: HaltingData,
  row: number,
): { h: number[]; p: number[]; acc: Float64Array[] } {
  const { hidden: H, classes: C } = data;
  const K = params.units;
  const h: number[] = [];
  const p: number[] = [];
  const acc: Float64Array[] = [data.probs[0]!.slice(row * C, row * C + C)];
  let prev = 1;
  for (let k = 0; k < K; k++) {
    const x = data.pooled[k]!;
    let z = params.bias[k]!;
    for (let i = 0; i < H; i++) z += params.weight[k * H + i]! * x[row * H + i]!;
    const hk = sigmoid(z);
    const pk = prev * hk;
    const y = data.probs[k + 1]!;
    const a = acc[k]!;
    const next = new Float64Array(C);
    for (let c = 0; c < C; c++) next[c] = pk * y[row * C + c]! + (1 - pk) * a[c]!;
    h.push(hk);
    p.push(pk);
    acc.push(next);
    prev = pk;
  }
  return { h, p, acc };
}

/** The objective over rows [from, from + count). */
export function haltingObjective(
  params: HaltingParams,
  data: HaltingData,
  tau: number,
  from = 0,
  count = data.rows,
): HaltingObjective {
  const C = data.classes;
  let task = 0;
  let ponder = 0;
  for (let r = from; r < from + count; r++) {
    const { p, acc } = dactForwardRow(params, data, r);
    const a = acc[acc.length - 1]!;
    for (let c = 0; c < C; c++) {
      const t = data.target[r * C + c]!;
      if (t > 0) task -= t * Math.log(Math.max(a[c]!, 1e-300));
    }
    ponder += 1 + p.reduce((s, v) => s + v, 0);
  }
  task /= count;
  ponder /= count;
  return { task, ponder, total: task + tau * ponder };
}

/** Gradient of the mean objective over `rows` with respect to the units' weights and biases. */
export function haltingGradient(
  params: HaltingParams,
  data: HaltingData,
  tau: number,
  rows: number[],
): { weight: Float64Array; bias: Float64Array } {
  const { hidden: H, classes: C } = data;
  const K = params.units;
  const gw = new Float64Array(K * H);
  const gb = new Float64Array(K);
  const gp = new Float64Array(K);
  const ga = new Float64Array(C);
  for (const r of rows) {
    const { h, p, acc } = dactForwardRow(params, data, r);
    const final = acc[K]!;
    for (let c = 0; c < C; c++) ga[c] = -data.target[r * C + c]! / Math.max(final[c]!, 1e-300);
    // Back through a_{k+1} = p_k y_{k+1} + (1 − p_k) a_k, from the last exit down.
    for (let k = K - 1; k >= 0; k--) {
      const y = data.probs[k + 1]!;
      const a = acc[k]!;
      let d = 0;
      for (let c = 0; c < C; c++) d += ga[c]! * (y[r * C + c]! - a[c]!);
      gp[k] = d + tau; // + τ: ∂ρ/∂p_k = 1
      for (let c = 0; c < C; c++) ga[c]! *= 1 - p[k]!;
    }
    // Back through p_k = p_{k−1} h_k: the total derivative reaching p_k, then h_k, then the unit's logit.
    let carried = 0;
    for (let k = K - 1; k >= 0; k--) {
      const total = gp[k]! + carried;
      const before = k === 0 ? 1 : p[k - 1]!;
      const dz = total * before * h[k]! * (1 - h[k]!);
      carried = total * h[k]!;
      gb[k]! += dz / rows.length;
      const x = data.pooled[k]!;
      for (let i = 0; i < H; i++) gw[k * H + i]! += (dz * x[r * H + i]!) / rows.length;
    }
  }
  return { weight: gw, bias: gb };
}
