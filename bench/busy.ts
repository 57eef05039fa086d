import { availableParallelism, loadavg } from 'node:os';

/**
 * Whether other work competes for the CPUs. The benchmarks' own processes are single-threaded and
 * run one request at a time, so a 1-minute load average at or above the core count means something
 * else is running: ratios then still compare like with like, but absolute times and tails are distorted.
 */
export function machineLoad(): { loadAverage: number; cores: number; busy: boolean } {
  const cores = availableParallelism();
  const loadAverage = loadavg()[0]!;
  return { loadAverage, cores, busy: loadAverage >= cores };
}

export function busyWarning(samples: { loadAverage: number; cores: number; busy: boolean }[]): string {
  const busy = samples.filter((s) => s.busy);
  if (busy.length === 0) return '';
  const worst = Math.max(...busy.map((s) => s.loadAverage));
  return `\nWARNING: the machine was busy (1-minute load average up to ${worst.toFixed(1)} on ${busy[0]!.cores} cores): the figures above are distorted; rerun on a quiet machine before recording them.\n`;
}

/** The ratio a/b of paired samples round by round: its median and 10th-90th percentile spread. */
export function pairedRatio(a: number[], b: number[]): { median: number; p10: number; p90: number } {
  const ratios = a.map((x, i) => x / b[i]!).sort((x, y) => x - y);
  const at = (q: number) => ratios[Math.min(ratios.length - 1, Math.floor(q * ratios.length))]!;
  return { median: at(0.5), p10: at(0.1), p90: at(0.9) };
}
