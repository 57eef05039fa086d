/**
 * Device emulation for the simulated cluster: one fast machine plays a Raspberry Pi or a Jetson.
 * Compute is stretched to the emulated device's speed, and outgoing frames are held back as long as
 * the emulated network link would take to carry them, so a whole heterogeneous cluster runs on one
 * machine and its timings mean something.
 */

export interface EmulatedLink {
  bandwidthBytesPerSec: number;
  latencyMs: number;
}

export const EMULATED_LINKS: Record<string, EmulatedLink> = {
  // Same figures as the planner's link profiles (coordinator/planning/devices.ts, sources there).
  gigabit: { bandwidthBytesPerSec: 940e6 / 8, latencyMs: 0.2 },
  wifi: { bandwidthBytesPerSec: 80e6 / 8, latencyMs: 3 },
};

/** "gigabit", "wifi" or "<Mbit/s>:<latency ms>", e.g. "100:2". */
export function parseEmulatedLink(spec: string): EmulatedLink {
  const named = EMULATED_LINKS[spec];
  if (named) return named;
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(spec);
  if (!m) throw new Error(`unknown link "${spec}": use gigabit, wifi or <Mbit/s>:<latency ms>`);
  return { bandwidthBytesPerSec: (Number(m[1]) * 1e6) / 8, latencyMs: Number(m[2]) };
}

/** Where a stretch accounts its runs (an agent's stats): how far real compute went past the emulated target. */
export interface EmulationRecord {
  emulatedRuns: number;
  emulationTargetMs: number;
  emulationOvershootMs: number;
  emulationOvershotRuns: number;
}

/**
 * Stretches each shard run to the emulated speed. The run's CPU time, not its wall time, is what is
 * scaled: on a machine shared by several emulated devices, waiting for a core is not the device's
 * cost. The process's CPU clock also counts other work done while the run waits its turn (decoding
 * frames), so the smallest CPU time seen for the same shard and input shape is used: some runs are clean.
 *
 * When a run's real time already exceeds its target (the machine is busy, or slower than the device it
 * plays) the stretch cannot take time back: it records the overshoot, so a benchmark can flag the run.
 */
export class ComputeStretch {
  private readonly cleanest = new Map<string, number>();
  /** What the stretch applies: a run is never shortened, so at least 1. */
  readonly factor: number;

  constructor(
    /** this machine's GFLOP/s per CPU-second / the emulated device's GFLOP/s (below 1: a device faster than this machine) */
    readonly ratio: number,
    private readonly record?: EmulationRecord,
  ) {
    this.factor = Math.max(1, ratio);
  }

  async around<T>(key: string, run: () => Promise<T>): Promise<T> {
    const wallStart = performance.now();
    const cpuStart = process.cpuUsage();
    const result = await run();
    const cpu = process.cpuUsage(cpuStart);
    const cpuMs = Math.min((cpu.user + cpu.system) / 1000, this.cleanest.get(key) ?? Infinity);
    this.cleanest.set(key, cpuMs);
    const elapsed = performance.now() - wallStart;
    const target = cpuMs * this.ratio;
    if (this.record) {
      this.record.emulatedRuns++;
      this.record.emulationTargetMs += target;
      if (elapsed > target) {
        this.record.emulationOvershootMs += elapsed - target;
        this.record.emulationOvershotRuns++;
      }
    }
    const remaining = target - elapsed;
    if (remaining > 0.05) await new Promise((r) => setTimeout(r, remaining));
    return result;
  }
}

/**
 * The sender's side of an emulated link: frames leave one after another at the link's bandwidth
 * (a shared uplink, first in first out) and arrive a latency later.
 */
export class LinkShaper {
  private nextFree = 0;

  constructor(readonly link: EmulatedLink) {}

  /** Milliseconds from now until a frame of `bytes` would have arrived at the other end. */
  reserve(bytes: number, now = performance.now()): number {
    const start = Math.max(now, this.nextFree);
    this.nextFree = start + (bytes / this.link.bandwidthBytesPerSec) * 1000;
    return this.nextFree + this.link.latencyMs - now;
  }
}
