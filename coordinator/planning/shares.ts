/**
 * Splitting a layer's heads and FFN columns over the members of a group in proportion to weights
 * (their speeds), in whole units, so a faster member never gets less than a slower one.
 */

/**
 * Largest-remainder apportionment of `total` units. Ties on the remainder go to the larger weight,
 * then to the earlier index, which keeps the counts monotone in the weights.
 */
export function apportion(total: number, weights: number[]): number[] {
  if (weights.length === 0) return [];
  const sum = weights.reduce((s, w) => s + Math.max(w, 0), 0);
  const quotas = weights.map((w) => (sum > 0 ? (total * Math.max(w, 0)) / sum : total / weights.length));
  const counts = quotas.map((q) => Math.floor(q + 1e-9));
  let left = total - counts.reduce((s, c) => s + c, 0);
  const order = quotas
    .map((q, i) => ({ i, r: q - counts[i]!, w: weights[i]! }))
    .sort((a, b) => b.r - a.r || b.w - a.w || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i]!++;
    left--;
  }
  return counts;
}

/** Equal shares, the way peers that ignore speed split (the first members get the spare units). */
export function apportionEvenly(total: number, members: number): number[] {
  return Array.from({ length: members }, (_, i) => Math.floor(total / members) + (i < total % members ? 1 : 0));
}

/** Consecutive index ranges for `counts`: [0, c0), [c0, c0 + c1), ... as explicit index lists. */
export function contiguousRanges(counts: number[]): number[][] {
  let start = 0;
  return counts.map((c) => {
    const range = Array.from({ length: c }, (_, k) => start + k);
    start += c;
    return range;
  });
}

export interface MemberShare {
  /** Index into the cluster's devices. */
  device: number;
  heads: number[];
  columns: number[];
  /** Position-parallel: this member's share of the positions, relative to the others' (absent: an even split). */
  positionShare?: number;
}

/** Speed-proportional heads and columns for `devices` (host first), as the plan lists them. */
export function proportionalShares(
  devices: number[],
  speeds: number[],
  numHeads: number,
  intermediateSize: number,
): MemberShare[] {
  const heads = contiguousRanges(apportion(numHeads, speeds));
  const columns = contiguousRanges(apportion(intermediateSize, speeds));
  return devices.map((device, i) => ({ device, heads: heads[i]!, columns: columns[i]! }));
}

export function evenShares(devices: number[], numHeads: number, intermediateSize: number): MemberShare[] {
  const heads = contiguousRanges(apportionEvenly(numHeads, devices.length));
  const columns = contiguousRanges(apportionEvenly(intermediateSize, devices.length));
  return devices.map((device, i) => ({ device, heads: heads[i]!, columns: columns[i]! }));
}
