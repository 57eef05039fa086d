/**
 * Device emulation for the simulated cluster: one fast machine plays a Raspberry Pi or a Jetson.
 * Compute is stretched to the emulated device's speed, and outgoing frames are held back as long as
 * the emulated network link would take to carry them, so a whole heterogeneous cluster runs on one
 * machine and its timings mean something.
 */

import { TIMER_GRANULARITY_MS } from '@edgerelay/proto';

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
  emulationReferenceGflops: number;
}

/** What the stretch asks of the machine's reference speed (host-speed.ts): its figure, and a sample in spare time. */
export interface ReferenceSpeed {
  readonly gflops: number;
  sampleIfDue(): Promise<void>;
}

/**
 * Stretches each shard run to the emulated speed. The run's CPU time, not its wall time, is what is
 * scaled: on a machine shared by several emulated devices, waiting for a core is not the device's
 * cost. The process's CPU clock also counts other work done while the run waits its turn (decoding
 * frames), so the smallest CPU time seen for the same work is used: some runs are clean. "The same work"
 * is the caller's key: shards of the same structure and input shape (every layer of a model) share one.
 *
 * When a run's real time already exceeds its target (the machine is busy, or slower than the device it
 * plays) the stretch cannot take time back: it records the overshoot, so a benchmark can flag the run.
 */
export class ComputeStretch {
  private readonly cleanest = new Map<string, number>();

  constructor(
    /**
     * this machine's GFLOP/s per CPU-second / the emulated device's GFLOP/s (below 1: a device faster than
     * this machine); or the reference speed it is read from at every run, with the device's GFLOP/s
     */
    private readonly speed: number | { reference: ReferenceSpeed; deviceGflops: number },
    private readonly record?: EmulationRecord,
  ) {}

  /** The cleanest CPU time of each kind of work so far (shared between the agents of one machine: emulation-sharing.ts). */
  cleanestCpuMs(): Record<string, number> {
    return Object.fromEntries(this.cleanest);
  }

  /** Takes another agent's cleanest times of the same work on this machine, where they are cleaner. */
  mergeCleanest(other: Record<string, number>): void {
    for (const [key, ms] of Object.entries(other))
      if (Number.isFinite(ms) && ms > 0 && ms < (this.cleanest.get(key) ?? Infinity)) this.cleanest.set(key, ms);
  }

  /** The ratio a run is stretched by now. */
  get ratio(): number {
    return typeof this.speed === 'number' ? this.speed : this.speed.reference.gflops / this.speed.deviceGflops;
  }

  /** `cpuMsOf`: the CPU time the run measured itself (on the agent's compute thread); else the process's is taken. */
  async around<T>(key: string, run: () => Promise<T>, cpuMsOf?: (result: T) => number | undefined): Promise<T> {
    const wallStart = performance.now();
    const cpuStart = process.cpuUsage();
    const result = await run();
    const cpu = process.cpuUsage(cpuStart);
    const used = cpuMsOf?.(result) ?? (cpu.user + cpu.system) / 1000;
    const cpuMs = Math.min(used, this.cleanest.get(key) ?? Infinity);
    this.cleanest.set(key, cpuMs);
    const elapsed = performance.now() - wallStart;
    const ratio = this.ratio;
    const target = cpuMs * ratio;
    if (this.record) {
      this.record.emulatedRuns++;
      if (typeof this.speed !== 'number') this.record.emulationReferenceGflops = ratio * this.speed.deviceGflops;
      this.record.emulationTargetMs += target;
      if (elapsed > target) {
        this.record.emulationOvershootMs += elapsed - target;
        this.record.emulationOvershotRuns++;
      }
    }
    // Time the device would still be busy: long enough, it also serves to sample the reference speed.
    if (typeof this.speed !== 'number' && target - elapsed > IDLE_SAMPLE_MIN_MS)
      await this.speed.reference.sampleIfDue();
    // Timers wait whole milliseconds: a sleep under half of one is closer to none (as the link shaper does). A timer
    // can also fire up to a millisecond early (libuv truncates the delay and reads a clock cached per loop turn), so
    // the device would run fast: sleep again for what is left.
    for (let remaining = target - (performance.now() - wallStart); remaining >= TIMER_GRANULARITY_MS / 2;) {
      await new Promise((r) => setTimeout(r, remaining));
      remaining = target - (performance.now() - wallStart);
    }
    return result;
  }
}

/** A reference sample takes about 2 ms of CPU; only a sleep with room to spare takes one. */
const IDLE_SAMPLE_MIN_MS = 8;

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
