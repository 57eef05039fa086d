/**
 * The token-pruning speed-up model. One encoder layer on n tokens of width H with FFN width F costs
 *
 *   f(n) = 2·(4·n·H² + 2·n·F·H) + 2·(2·n²·H)  =  α·n + β·n²
 *
 * multiply-adds counted twice: the Q, K, V and output projections and the two FFN matrices grow
 * with n; the scores Q·Kᵀ and the context P·V grow with n². Softmax, LayerNorm, biases and the
 * exit heads are left out (a few per cent at most on BERT shapes). A schedule runs layer l on
 * n_l = tokensAt(keep, l, n) tokens, so its encoder FLOPs are Σ_l f(n_l) against L·f(n) unpruned.
 */
import { EdgeRelayError } from '@edgerelay/proto';
import { formatKeep, tokensAt, validateKeep, type TokenPruning } from '@edgerelay/device-agent';

export interface LayerShape {
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
}

export class SpeedupTargetError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_TOKEN_PRUNING_TARGET';
}

/** FLOPs of one encoder layer on n tokens (n may be fractional in the continuous model). */
export function layerFlops(shape: LayerShape, n: number): number {
  const { hiddenSize: H, intermediateSize: F } = shape;
  return 2 * (4 * n * H * H + 2 * n * F * H) + 2 * (2 * n * n * H);
}

/** Encoder FLOPs for one sequence of `length` real tokens under `keep`, through layer `lastLayer` (an exit). */
export function encoderFlops(
  shape: LayerShape,
  length: number,
  keep?: readonly number[],
  lastLayer = shape.numLayers - 1,
): number {
  let total = 0;
  for (let l = 0; l <= lastLayer; l++) total += layerFlops(shape, keep ? tokensAt(keep, l, length) : length);
  return total;
}

/** Encoder FLOPs for tokens counted per layer (what a pruned run reports: ClassifyResult.tokensPerLayer). */
export function flopsOfTokens(shape: LayerShape, tokensPerLayer: readonly number[]): number {
  return tokensPerLayer.reduce((a, n) => a + layerFlops(shape, n), 0);
}

/**
 * Predicted encoder speed-up of a schedule at `length` tokens in the continuous model
 * (n_l = keep[l]·n, no rounding): full FLOPs / pruned FLOPs.
 */
export function predictedSpeedup(shape: LayerShape, keep: readonly number[], length: number): number {
  const full = shape.numLayers * layerFlops(shape, length);
  const pruned = keep.reduce((a, r) => a + layerFlops(shape, r * length), 0);
  return full / pruned;
}

export interface InvertOptions {
  /** The smallest ratio any layer may keep (default 0.2). */
  floor?: number;
}

/**
 * The schedule that meets speed-up `target` at `length` tokens with the least pruning early on: the
 * lexicographically largest (keep[0], keep[1], …) whose predicted speed-up is ≥ target, with every
 * ratio ≥ floor. Layer by layer it keeps as much as it can while the layers after it, pruned to the
 * floor, can still make up the budget; so it is all ones, then at most one ratio in between, then
 * the floor. Ratios are rounded down to 1e-4, which only adds speed.
 */
export function scheduleForSpeedup(
  shape: LayerShape,
  target: number,
  length: number,
  options: InvertOptions = {},
): TokenPruning {
  const floor = options.floor ?? 0.2;
  const L = shape.numLayers;
  if (!(Number.isFinite(target) && target >= 1))
    throw new SpeedupTargetError(`speed-up target ${target} must be a number ≥ 1 (1 = no pruning).`);
  if (!(floor > 0 && floor <= 1)) throw new SpeedupTargetError(`pruning floor ${floor} must be in (0, 1].`);
  const f = (r: number) => layerFlops(shape, r * length);
  const budget = (L * f(1)) / target;
  const best = predictedSpeedup(shape, [1, ...new Array<number>(L - 1).fill(floor)], length);
  if (best < target * (1 - 1e-12))
    throw new SpeedupTargetError(
      `speed-up ${target} is out of reach at ${length} tokens: with layer 0 whole and every later layer at the floor ${floor}, the model predicts at most ${best.toFixed(3)}×; lower the target or the floor.`,
    );
  const keep = [1];
  let spent = f(1);
  for (let l = 1; l < L; l++) {
    const left = budget - spent - (L - 1 - l) * f(floor);
    // Largest r with α·r·n + β·(r·n)² ≤ left: the positive root of the quadratic.
    const alpha = layerFlops(shape, 1) - 4 * shape.hiddenSize;
    const beta = 4 * shape.hiddenSize;
    const x = (-alpha + Math.sqrt(alpha * alpha + 4 * beta * Math.max(0, left))) / (2 * beta);
    const r = Math.max(floor, Math.min(keep[l - 1]!, Math.floor((x / length) * 1e4) / 1e4));
    keep.push(r);
    spent += f(r);
  }
  return validateKeep(keep);
}

/** `speedup=S` (the CLI's --target form for pruning) → S. */
export function parseSpeedupTarget(text: string): number {
  const m = /^speedup=([0-9]*\.?[0-9]+)$/.exec(text.trim());
  const s = m ? Number(m[1]) : NaN;
  if (!(Number.isFinite(s) && s >= 1))
    throw new SpeedupTargetError(`"${text}" is not a speed-up target: write speedup=S with S ≥ 1, e.g. speedup=1.5.`);
  return s;
}

export { formatKeep };
