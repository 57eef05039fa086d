/**
 * A head-pruned bert-base-shaped model against the unpruned one: single-node latency (interleaved, with the
 * spread of the per-round ratio), and the planner's predicted vs measured latency on the 4 × Pi 4 scenario.
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { loadCheckpoint, writePrunedCheckpoint, type HeadRef } from '../coordinator/checkpoint/index.js';
import { compileShard, IO } from '../coordinator/compiler/index.js';
import {
  clusterFromFile,
  planCluster,
  predictPlan,
  readClusterFile,
  readPlannerModel,
} from '../coordinator/planning/index.js';
import { mulberry32 } from '../coordinator/util/prng.js';
import { ShardSession, int64Tensor, type HostTensor } from '../device-agent/runtime/index.js';
import { projectRoot } from '../sim/cli/paths.js';
import { startSimCluster } from '../sim/index.js';
import { bertBaseCheckpoint } from './models.js';
import { emulatedDevices, measure } from './planner.js';
import { interleaved, median, percentile } from './stats.js';

export interface HeadPruningBenchArgs {
  rounds: number;
  seqLen: number;
  /** Share of the 144 heads removed. */
  fraction: number;
  cluster: boolean;
  clusterRounds: number;
}

/** `fraction` of bert-base's heads, chosen by a seeded shuffle, removed into a cached copy. */
async function prunedBertBase(fraction: number): Promise<{ dir: string; removed: number }> {
  const base = await bertBaseCheckpoint();
  const count = Math.round(fraction * 144);
  const dir = path.join(path.dirname(base), `bert-base-random-pruned-${count}`);
  if (!existsSync(path.join(dir, 'model.safetensors'))) {
    const all: HeadRef[] = Array.from({ length: 144 }, (_, i) => [Math.floor(i / 12), i % 12]);
    const random = mulberry32(7);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    process.stderr.write(`writing bert-base with ${count} of 144 heads pruned to ${dir} (once)\n`);
    writePrunedCheckpoint(base, dir, all.slice(0, count));
  }
  return { dir, removed: count };
}

export async function benchHeadPruning(args: HeadPruningBenchArgs): Promise<void> {
  const baseDir = await bertBaseCheckpoint();
  const pruned = await prunedBertBase(args.fraction);
  const load0 = loadavg()[0]!;
  const S = args.seqLen;
  const dims = [1, S];
  const ids = BigInt64Array.from({ length: S }, (_, i) =>
    BigInt(i === 0 ? 101 : i === S - 1 ? 102 : 1000 + ((i * 7919) % 29000)),
  );
  const feeds: Record<string, HostTensor> = {
    [IO.inputIds]: int64Tensor(ids, dims),
    [IO.tokenTypeIds]: int64Tensor(new BigInt64Array(S), dims),
    [IO.attentionMask]: int64Tensor(new BigInt64Array(S).fill(1n), dims),
  };
  const session = async (dir: string) =>
    ShardSession.create(compileShard(await loadCheckpoint(dir), { kind: 'monolithic' }), { threads: 1 });
  const full = await session(baseDir);
  const cut = await session(pruned.dir);
  const samples = await interleaved({ unpruned: () => full.run(feeds), pruned: () => cut.run(feeds) }, args.rounds);
  await Promise.all([full.release(), cut.release()]);
  const ratios = samples.pruned!.map((p, i) => p / samples.unpruned![i]!);
  const load1 = loadavg()[0]!;
  process.stdout.write(
    `head pruning: bert-base shape (12 layers × 12 heads, hidden 768), ${pruned.removed} of 144 heads removed ` +
      `(${((100 * pruned.removed) / 144).toFixed(1)}%), ${S} tokens, 1 thread, ${args.rounds} interleaved rounds\n\n` +
      `unpruned  median ${median(samples.unpruned!).toFixed(1)} ms\n` +
      `pruned    median ${median(samples.pruned!).toFixed(1)} ms\n` +
      `pruned / unpruned: median ${median(ratios).toFixed(3)} (per-round ratios p10 ${percentile(ratios, 10).toFixed(3)}, ` +
      `p90 ${percentile(ratios, 90).toFixed(3)})\n`,
  );
  const busy = Math.max(load0, load1) > cpus().length || percentile(ratios, 90) - percentile(ratios, 10) > 0.15;
  if (busy)
    process.stdout.write(
      `WARNING: the machine was busy (load ${load0.toFixed(1)} → ${load1.toFixed(1)} on ${cpus().length} cores, ` +
        `ratio spread ${(percentile(ratios, 90) - percentile(ratios, 10)).toFixed(3)}): take the ratio with care.\n`,
    );
  if (!args.cluster) return;

  const file = readClusterFile(path.join(projectRoot(), 'sim', 'clusters', '4x-pi4-gigabit.json'));
  const cluster = clusterFromFile(file);
  const settings = {
    seqLen: file.seqLen ?? S,
    wireDtype: file.wireDtype ?? 'float32',
    version: 1,
    exitThreshold: 0,
  } as const;
  const text = [Array.from({ length: settings.seqLen - 2 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ')];
  process.stdout.write(`\nplanner on 4 × Pi 4, gigabit (emulated agents), median of ${args.clusterRounds} requests\n`);
  process.stdout.write('model      stages  predicted ms  measured ms  prediction error\n');
  for (const [name, dir] of [
    ['unpruned', baseDir],
    ['pruned', pruned.dir],
  ] as const) {
    const model = readPlannerModel(dir);
    const result = planCluster(model, cluster, { ...settings, objective: 'latency' });
    process.stderr.write(`${name}: starting ${file.devices.length} emulated agents\n`);
    const sim = await startSimCluster({
      model: dir,
      agents: file.devices.length,
      devices: emulatedDevices(file),
      readyTimeoutMs: 600_000,
      requestTimeoutMs: 120_000,
    });
    try {
      await sim.coordinator.linksMeasured();
      await sim.coordinator.applyPlan(result.plan);
      const measured = await measure(sim.url, text, args.clusterRounds, 'none');
      const predicted = predictPlan(result.plan, cluster, model, settings).latencyMs;
      const stages = result.plan.stages.map(
        (s) => `${s.layerStart}-${s.layerEnd}${s.members.length ? `×${s.members.length}` : ''}`,
      );
      process.stdout.write(
        `${name.padEnd(9)}  ${stages.join(',').padEnd(6)}  ${predicted.toFixed(0).padStart(12)}  ${measured.toFixed(0).padStart(11)}  ` +
          `${(((predicted - measured) / measured) * 100).toFixed(1).padStart(15)}%\n`,
      );
    } finally {
      await sim.stop();
    }
  }
}
