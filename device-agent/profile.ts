import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OSUtils } from 'node-os-utils';
import type { Capabilities__Output } from '@edgerelay/proto';
import { ShardSession } from './runtime/session.js';
import { median } from './util/median.js';

/**
 * What an agent reports at registration. Every field is filled in, so it is the `__Output` shape,
 * which is assignable to the `Capabilities` message the RegisterRequest carries.
 */
export type DeviceCapabilities = Capabilities__Output;

export interface ProfileOptions {
  /** Intra-op threads the agent will run shards with; 0 means one per core (as in SessionOptions). */
  threads: number;
  /** Time budget of the GFLOP/s benchmark. */
  benchmarkMs?: number;
}

export interface GflopsOptions {
  threads: number;
  /** Side of the square matrices; 256 fits the L2 of a Pi-class core, so it measures compute, not DRAM. */
  size?: number;
  /** Timed part of the benchmark, after a short warm-up. */
  budgetMs?: number;
  /** 'wall' (default): real throughput; 'cpu': speed per CPU-second, unaffected by other processes. */
  clock?: 'wall' | 'cpu';
}

const DEFAULT_BENCHMARK_MS = 500;
const DEFAULT_SIZE = 256;
/** Timed batches whose median is reported, so one scheduler hiccup does not skew the figure. */
const BATCHES = 5;

/** The committed asset sits beside this file's folder in the source tree; dist/device-agent/profile.js finds it two levels up. */
export function matmulModelPath(file = 'matmul.onnx'): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'assets', file), path.join(here, '..', 'assets', file)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `${file} not found (looked in ${candidates.join(', ')}); the installation is incomplete, reinstall it or run "npm run gen:agent-assets"`,
    );
  }
  return found;
}

/** Side of the int8 benchmark's constant weight (coordinator/compiler/generate-agent-matmul.ts). */
const INT8_SIZE = 256;

/** Bytes of the benchmark model (float32 A [n,n] · B [n,n] → Y). */
export function loadMatmulModel(): Uint8Array {
  return readFileSync(matmulModelPath());
}

function checkThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 0)
    throw new RangeError(`threads must be a non-negative integer, got ${threads}`);
}

/** Fills deterministic values in [-1, 1): random enough for MatMul, and no denormals to slow some CPUs down. */
function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Sustained float32 MatMul throughput with the session settings shards run under (ShardSession),
 * so the planner's cost model sees what this device will actually deliver.
 */
export async function measureGflops(options: GflopsOptions): Promise<number> {
  checkThreads(options.threads);
  const n = options.size ?? DEFAULT_SIZE;
  const budgetMs = options.budgetMs ?? DEFAULT_BENCHMARK_MS;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`size must be a positive integer, got ${n}`);
  if (!(budgetMs > 0) || !Number.isFinite(budgetMs))
    throw new RangeError(`budgetMs must be a positive number, got ${budgetMs}`);

  return timeMatmul(loadMatmulModel(), n, budgetMs, options, matmulFeeds(n));
}

/** CPU time this process has used (every thread, user and system), in ms. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** The float32 benchmark's inputs: two n×n matrices of deterministic values. */
export function matmulFeeds(n: number): Parameters<ShardSession['run']>[0] {
  return {
    A: { dtype: 'float32' as const, dims: [n, n], data: fill(n * n, 1) },
    B: { dtype: 'float32' as const, dims: [n, n], data: fill(n * n, 2) },
  };
}

/**
 * The same benchmark through the int8 kernel int8 shards run (DynamicQuantizeMatMul, constant int8 weight
 * [256, 256]), in float-equivalent GFLOP/s (2n³ per run), so the planner can compare it with `gflops`.
 */
export async function measureInt8Gflops(options: Omit<GflopsOptions, 'size'>): Promise<number> {
  checkThreads(options.threads);
  const budgetMs = options.budgetMs ?? DEFAULT_BENCHMARK_MS;
  if (!(budgetMs > 0) || !Number.isFinite(budgetMs))
    throw new RangeError(`budgetMs must be a positive number, got ${budgetMs}`);
  const n = INT8_SIZE;
  return timeMatmul(readFileSync(matmulModelPath('matmul-int8.onnx')), n, budgetMs, options, {
    A: { dtype: 'float32' as const, dims: [n, n], data: fill(n * n, 1) },
  });
}

/** Median GFLOP/s of an n×n×n matmul model over BATCHES timed batches after a warm-up. */
async function timeMatmul(
  model: Uint8Array,
  n: number,
  budgetMs: number,
  options: GflopsOptions,
  feeds: Parameters<ShardSession['run']>[0],
): Promise<number> {
  const session = await ShardSession.create(model, { threads: options.threads });
  try {
    // Warm-up: first runs pay for thread-pool start-up, page faults and kernel selection.
    for (let i = 0; i < 2; i++) await session.run(feeds);

    const flopsPerRun = 2 * n ** 3;
    const batchMs = budgetMs / BATCHES;
    const rates: number[] = [];
    // CPU time instead of wall time gives the speed of the cores themselves, whatever else runs
    // beside us: what device emulation needs, since it stretches CPU time (device-agent/emulation.ts).
    const clock = options.clock === 'cpu' ? processCpuMs : () => performance.now();
    for (let b = 0; b < BATCHES; b++) {
      let runs = 0;
      const start = clock();
      const wallStart = performance.now();
      let elapsed = 0;
      // At least one run per batch, so a budget shorter than one MatMul still yields a figure.
      do {
        await session.run(feeds);
        runs++;
        elapsed = clock() - start;
      } while (performance.now() - wallStart < batchMs);
      rates.push((flopsPerRun * runs) / (Math.max(elapsed, 1e-3) / 1000) / 1e9);
    }
    return median(rates);
  } finally {
    await session.release();
  }
}

type Metric<T> = { success: true; data: T } | { success: false };

/** A node-os-utils metric, or undefined when it failed, is unsupported here, or threw. */
async function attempt<T>(read: () => Promise<Metric<T>>): Promise<T | undefined> {
  try {
    const result = await read();
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

/** node-os-utils readings; all undefined where the library cannot even start (an unsupported platform). */
async function readOsUtils() {
  let utils: OSUtils;
  try {
    // No cache: a profile wants fresh readings, and the cache would otherwise keep a cleanup timer alive.
    utils = new OSUtils({ cacheEnabled: false });
  } catch {
    return { cpu: undefined, memory: undefined, load: undefined };
  }
  try {
    const [cpu, memory, load] = await Promise.all([
      attempt(() => utils.cpu.info()),
      attempt(() => utils.memory.info()),
      attempt(() => utils.cpu.loadAverage()),
    ]);
    return { cpu, memory, load };
  } finally {
    try {
      utils.destroy();
    } catch {
      // Nothing is lost if cleanup of a read-only helper fails.
    }
  }
}

const positive = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function osCpuModel(): string {
  return os.cpus()[0]?.model?.trim() || `unknown ${process.arch} CPU`;
}

/**
 * Describes this device for registration: cores, CPU model, memory, load and measured GFLOP/s.
 * node-os-utils supplies the metrics; any it cannot read (platform, permissions, containers) come from
 * node:os instead, so profiling never fails for want of one figure.
 */
export async function profileDevice(options: ProfileOptions): Promise<DeviceCapabilities> {
  checkThreads(options.threads);
  const { cpu, memory, load } = await readOsUtils();

  // /proc/cpuinfo counts every CPU of the host (and on a Raspberry Pi its trailing board block parses as
  // one more), while the agent may only run on the CPUs its affinity mask allows: take the smaller.
  const usable = os.availableParallelism();
  const cores = positive(cpu?.threads) ? Math.min(Math.floor(cpu.threads), usable) : usable;

  const model = cpu?.model?.trim();
  const cpuModel = model && model.toLowerCase() !== 'unknown' ? model : osCpuModel();

  const memoryTotalBytes = positive(memory?.total?.bytes) ? memory.total.bytes : os.totalmem();
  // "available" (reclaimable cache included) is what a new shard can actually get; "free" understates it.
  const freeReported = memory?.available?.bytes ?? memory?.free?.bytes;
  const memoryFreeBytes = Math.min(positive(freeReported) ? freeReported : os.freemem(), memoryTotalBytes);

  const load1 = load?.load1;
  const loadAverage =
    typeof load1 === 'number' && Number.isFinite(load1) && load1 >= 0 ? load1 : (os.loadavg()[0] ?? 0);

  const threads = options.threads === 0 ? cores : options.threads;
  const gflops = await measureGflops({ threads, budgetMs: options.benchmarkMs ?? DEFAULT_BENCHMARK_MS });
  // Half the budget again: int8 shards run on another kernel, whose speed-up over float varies by CPU.
  const int8Gflops = await measureInt8Gflops({
    threads,
    budgetMs: (options.benchmarkMs ?? DEFAULT_BENCHMARK_MS) / 2,
  });

  return {
    cores,
    cpuModel,
    memoryTotalBytes,
    memoryFreeBytes,
    loadAverage,
    gflops,
    int8Gflops,
    threads,
    platform: process.platform,
    arch: process.arch,
  };
}
