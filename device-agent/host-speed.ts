import { loadMatmulModel, matmulFeeds, processCpuMs } from './profile.js';
import { ShardSession } from './runtime/session.js';

/** Side of the reference matmul: the benchmark the device profiles' GFLOP/s figures come from (profile.ts). */
const SIZE = 256;
/** Matmuls per sample: about 2 ms of CPU here, long enough that the CPU clock's granularity does not matter. */
const RUNS_PER_SAMPLE = 8;
/** Samples at start-up, so the first requests already stretch against a settled figure. */
const INITIAL_SAMPLES = 40;
/** Later samples are taken in the stretch's idle time, at most this often. */
const SAMPLE_INTERVAL_MS = 250;

/**
 * This machine's reference matmul speed per CPU-second in its fastest state, for device emulation.
 *
 * On a shared machine the speed of a CPU-second wanders (here by up to 2× within a minute: a neighbour on
 * the same physical core, frequency changes). The stretch scales a shard's *cleanest* CPU time, the
 * fastest the machine ran it; dividing that by a reference taken at an ordinary moment made the emulated
 * device up to 45% faster than its nominal speed, and different on every start. So the reference is kept
 * the same way: the fastest sample seen, sampled through the agent's life in time the stretch spends
 * asleep anyway. Both extremes converge to the machine's fastest state, and their ratio to the work done.
 */
export class HostSpeed {
  private best = 0;
  private lastSample = -Infinity;
  private sampling = false;
  /** Samples taken so far. */
  samples = 0;

  private constructor(
    private readonly session: ShardSession,
    private readonly feeds: Parameters<ShardSession['run']>[0],
  ) {}

  /**
   * `seedGflops`: the fastest figure someone else already saw on this machine (the launcher of several agents
   * samples once for all of them), so an agent that stays busy does not start from a slow moment.
   */
  static async start(threads: number, options: { initialSamples?: number; seedGflops?: number } = {}) {
    const session = await ShardSession.create(loadMatmulModel(), { threads });
    const speed = new HostSpeed(session, matmulFeeds(SIZE));
    speed.best = options.seedGflops ?? 0;
    const initialSamples = options.initialSamples ?? INITIAL_SAMPLES;
    await session.run(speed.feeds); // warm-up: thread pool, page faults, kernel selection
    for (let i = 0; i < initialSamples; i++) {
      await speed.sample();
      // Spread over time, so a fast moment has a chance to be seen.
      await new Promise((r) => setTimeout(r, 5));
    }
    return speed;
  }

  /** GFLOP/s per CPU-second, the fastest seen. */
  get gflops(): number {
    return this.best;
  }

  /** A faster figure another agent on this machine saw (emulation-sharing.ts). */
  offer(gflops: number): void {
    if (Number.isFinite(gflops) && gflops > this.best) this.best = gflops;
  }

  private async sample(): Promise<void> {
    this.sampling = true;
    try {
      const start = processCpuMs();
      for (let i = 0; i < RUNS_PER_SAMPLE; i++) await this.session.run(this.feeds);
      const used = processCpuMs() - start;
      this.samples++;
      this.lastSample = performance.now();
      if (used > 0) this.best = Math.max(this.best, (2 * SIZE ** 3 * RUNS_PER_SAMPLE) / (used / 1000) / 1e9);
    } finally {
      this.sampling = false;
    }
  }

  /** One more sample if the last is old enough; called by the stretch when it has time to spare. */
  async sampleIfDue(): Promise<void> {
    if (this.sampling || performance.now() - this.lastSample < SAMPLE_INTERVAL_MS) return;
    await this.sample();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
