/**
 * Token-pruning schedules: keep[l] is the share of a sequence's real tokens (its length before any
 * pruning, [CLS] and [SEP] included) that encoder layer l runs on. The tokens for layer l + 1 are
 * chosen after layer l from layer l's attention context contribution (score.ts), so keep[0] is 1:
 * nothing has been scored before the first layer. Ratios never grow from one layer to the next.
 *
 * Spec syntax: `keep=1,1,0.7,0.5,0.4,0.3` (one ratio per layer), or `none` (no pruning).
 */
import { EdgeRelayError } from '@edgerelay/proto';

export class TokenPruningSpecError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_TOKEN_PRUNING_SPEC';
}

/** A parsed schedule: one keep ratio per encoder layer, each in (0, 1], non-increasing, keep[0] = 1. */
export interface TokenPruning {
  keep: number[];
}

/** Layers a schedule may name; far more than any encoder edgerelay runs, small enough to bound a frame. */
export const MAX_PRUNING_LAYERS = 64;

/** Tokens never dropped: [CLS] (the first real token) and [SEP] (the last). */
export const PROTECTED_TOKENS = 2;

const EXAMPLE = 'keep=1,1,0.7,0.5,0.4,0.3';

/** Parses `keep=…` (or `none`, which returns undefined); every malformed spec throws TokenPruningSpecError. */
export function parseTokenPruning(spec: string): TokenPruning | undefined {
  const text = spec.trim();
  if (text === 'none') return undefined;
  const m = /^keep=(.*)$/.exec(text);
  if (!m)
    throw new TokenPruningSpecError(
      `token pruning "${spec}" is not a schedule: write keep=R0,R1,… with one ratio per layer (e.g. ${EXAMPLE}) or none.`,
    );
  const parts = m[1]!.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === ''))
    throw new TokenPruningSpecError(
      `token pruning "${spec}" has an empty ratio: list one ratio per layer, e.g. ${EXAMPLE}.`,
    );
  const keep = parts.map((p) => {
    const v = /^[0-9]*\.?[0-9]+(e-?[0-9]+)?$/i.test(p) ? Number(p) : NaN;
    if (!Number.isFinite(v))
      throw new TokenPruningSpecError(`token pruning ratio "${p}" is not a number (in "${spec}").`);
    return v;
  });
  return validateKeep(keep, spec);
}

/** Checks a schedule given as numbers (a request, a stored calibration) the same way the parser does. */
export function validateKeep(keep: readonly number[], spec = formatKeep(keep)): TokenPruning {
  if (keep.length === 0 || keep.length > MAX_PRUNING_LAYERS)
    throw new TokenPruningSpecError(`token pruning "${spec}" must list 1 to ${MAX_PRUNING_LAYERS} ratios.`);
  keep.forEach((r, l) => {
    if (!(Number.isFinite(r) && r > 0 && r <= 1))
      throw new TokenPruningSpecError(
        `token pruning ratio ${r} for layer ${l} is outside (0, 1]: a layer keeps a share of the tokens, more than none and at most all.`,
      );
    if (l > 0 && r > keep[l - 1]!)
      throw new TokenPruningSpecError(
        `token pruning "${spec}" grows from ${keep[l - 1]} to ${r} at layer ${l}: a dropped token cannot come back, so ratios must not increase.`,
      );
  });
  if (keep[0] !== 1)
    throw new TokenPruningSpecError(
      `token pruning "${spec}" starts at ${keep[0]}: layer 0 runs on every token (no layer has scored them yet), so the first ratio is 1.`,
    );
  return { keep: [...keep] };
}

/** Checks that the schedule names each of the model's layers exactly once. */
export function checkScheduleFits(pruning: TokenPruning, numLayers: number): void {
  if (pruning.keep.length !== numLayers)
    throw new TokenPruningSpecError(
      `token pruning "${formatTokenPruning(pruning)}" lists ${pruning.keep.length} ratios but the model has ${numLayers} layers: give one ratio per layer.`,
    );
}

export function formatKeep(keep: readonly number[]): string {
  return `keep=${keep.map((r) => String(Number(r.toFixed(6)))).join(',')}`;
}

export function formatTokenPruning(pruning: TokenPruning | undefined): string {
  return pruning ? formatKeep(pruning.keep) : 'none';
}

/** Whether the schedule keeps every token at every layer (then nothing is scored or gathered). */
export function keepsEverything(pruning: TokenPruning | undefined): boolean {
  return !pruning || pruning.keep.every((r) => r === 1);
}

/**
 * Tokens layer `layer` runs on for a sequence of `realLength` tokens: ⌈keep[layer] · n⌉, but never
 * fewer than the protected [CLS]/[SEP] and never more than n. The small slack keeps 0.7 · 10 at 7.
 */
export function tokensAt(keep: readonly number[], layer: number, realLength: number): number {
  const ratio = keep[Math.min(layer, keep.length - 1)] ?? 1;
  const k = Math.ceil(ratio * realLength - 1e-9);
  return Math.min(realLength, Math.max(Math.min(PROTECTED_TOKENS, realLength), k));
}
