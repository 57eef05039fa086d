export { median } from '../device-agent/util/median.js';

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Times several variants interleaved round by round, so machine noise hits them alike:
 * returns each variant's samples in milliseconds.
 */
export async function interleaved(
  variants: Record<string, () => Promise<unknown>>,
  rounds: number,
  warmup = 2,
): Promise<Record<string, number[]>> {
  const names = Object.keys(variants);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < warmup + rounds; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      const t0 = performance.now();
      await variants[name]!();
      if (r >= warmup) samples[name]!.push(performance.now() - t0);
    }
  }
  return samples;
}
