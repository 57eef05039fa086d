/**
 * Deterministic tuning / held-apart split: a seeded shuffle, so the held-apart rows are a fair sample
 * whatever order the file is in, and the same seed always gives the same split.
 */
import { mulberry32 } from '../util/prng.js';

export interface RowSplit {
  tuning: number[];
  heldOut: number[];
}

export function splitRows(count: number, holdout: number, seed: number): RowSplit {
  if (!(holdout >= 0 && holdout < 1)) throw new RangeError(`holdout must be in [0, 1), got ${holdout}`);
  const order = Array.from({ length: count }, (_, i) => i);
  const random = mulberry32(seed);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const held = Math.round(count * holdout);
  const byIndex = (a: number, b: number) => a - b;
  return { heldOut: order.slice(0, held).sort(byIndex), tuning: order.slice(held).sort(byIndex) };
}
