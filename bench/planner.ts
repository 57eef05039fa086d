import path from 'node:path';
import { projectRoot } from '../sim/cli/paths.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import {
  bestSingleDevicePlan,
  clusterFromFile,
  evenSplitPlan,
  planCluster,
  predictPlan,
  readClusterFile,
  readPlannerModel,
  type PlannerResult,
} from '../coordinator/planning/index.js';
import { startSimCluster, type EmulatedDevice } from '../sim/index.js';
import { DEVICE_PROFILES } from '../coordinator/planning/devices.js';
import { bertBaseCheckpoint } from './models.js';
import { median } from './stats.js';

interface Scenario {
  name: string;
  file: string;
  /** bert-base shape at 128 tokens, or the SST-2 model on dev sentences (with exits). */
  model: 'bert-base' | 'sst2';
}

const SCENARIOS: Scenario[] = [
  { name: '4x pi4 gigabit', file: '4x-pi4-gigabit.json', model: 'bert-base' },
  { name: '4x pi4 gigabit, float16 on the wire', file: '4x-pi4-gigabit-f16.json', model: 'bert-base' },
  { name: 'pi4 + pi5 + orin-nano gigabit', file: 'pi4-pi5-orin-gigabit.json', model: 'bert-base' },
  { name: 'pi4 + pi5 + orin-nano wifi', file: 'pi4-pi5-orin-wifi.json', model: 'bert-base' },
  { name: '2x pi4 + orin-nano gigabit, calibrated exits', file: '2x-pi4-orin-exits.json', model: 'sst2' },
];

interface Row {
  name: string;
  plannerMs: number;
  bestSingleMs: number;
  evenSplitMs: number;
  predictedMs: number;
  evenPipelineMs: number;
  evenTensorParallelMs: number;
}

/** Median request latency of one plan on the emulated cluster. */
export async function measure(url: string, texts: string[], rounds: number, policy: string): Promise<number> {
  const once = async (text: string) => {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: text, parameters: { exit_policy: policy } }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    return performance.now() - t0;
  };
  await once(texts[0]!); // warm-up: first runs allocate
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) samples.push(await once(texts[i % texts.length]!));
  return median(samples);
}

export async function benchPlanner(args: { rounds: number; json?: boolean; only?: string }): Promise<void> {
  const rows: Row[] = [];
  for (const scenario of SCENARIOS.filter((s) => !args.only || s.file.includes(args.only))) {
    const file = readClusterFile(path.join(projectRoot(), 'sim', 'clusters', scenario.file));
    const cluster = clusterFromFile(file);
    const modelDir =
      scenario.model === 'bert-base'
        ? await bertBaseCheckpoint()
        : path.join(projectRoot(), 'models', 'sst2-bert-6L-256H');
    const model = readPlannerModel(modelDir);
    let texts: string[];
    let seqLen: number;
    if (scenario.model === 'bert-base') {
      seqLen = file.seqLen ?? 128;
      texts = [Array.from({ length: seqLen - 2 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ')];
    } else {
      // Real sentences, so the exits fire as calibrated; the cost model gets their mean length.
      const tokenizer = loadTokenizer(modelDir);
      texts = readLabelledTsv(path.join(modelDir, 'dev.tsv'))
        .map((e) => e.sentence)
        .slice(0, Math.max(args.rounds, 40));
      seqLen = Math.round(texts.reduce((s, t) => s + tokenizer.encode(t, 128).ids.length, 0) / texts.length);
    }
    const exitPolicy = file.exitRates ? 'max-prob=0.9' : 'none';
    const wireDtype = file.wireDtype ?? 'float32';
    const base = {
      seqLen,
      wireDtype: file.wireDtype ?? 'float32',
      exitRates: file.exitRates,
      version: 1,
      exitThreshold: 0,
    } as const;
    const plans: Record<string, PlannerResult> = {
      planner: planCluster(model, cluster, { ...base, objective: 'latency' }),
      bestSingle: bestSingleDevicePlan(model, cluster, base),
      evenPipeline: evenSplitPlan(model, cluster, { ...base, style: 'pipeline' }),
      evenTensorParallel: evenSplitPlan(model, cluster, { ...base, style: 'tensor-parallel' }),
    };
    const devices = emulatedDevices(file);
    process.stderr.write(`scenario ${scenario.name}: starting ${devices.length} emulated agents\n`);
    const sim = await startSimCluster({
      model: modelDir,
      agents: devices.length,
      devices,
      wireDtype,
      readyTimeoutMs: 600_000,
      requestTimeoutMs: 120_000,
    });
    const measured: Record<string, number> = {};
    try {
      await sim.coordinator.linksMeasured();
      for (const [name, result] of Object.entries(plans)) {
        await sim.coordinator.applyPlan(result.plan);
        measured[name] = await measure(sim.url, texts, args.rounds, exitPolicy);
        process.stderr.write(
          `  ${name}: ${measured[name]!.toFixed(0)} ms (predicted ${predictPlan(result.plan, cluster, model, base).latencyMs.toFixed(0)} ms)\n`,
        );
      }
    } finally {
      await sim.stop();
    }
    rows.push({
      name: scenario.name,
      plannerMs: measured.planner!,
      bestSingleMs: measured.bestSingle!,
      evenSplitMs: Math.min(measured.evenPipeline!, measured.evenTensorParallel!),
      predictedMs: plans.planner!.predicted.latencyMs,
      evenPipelineMs: measured.evenPipeline!,
      evenTensorParallelMs: measured.evenTensorParallel!,
    });
  }
  if (args.json) {
    const round = (x: number) => Math.round(x * 10) / 10;
    process.stdout.write(
      JSON.stringify({
        scenarios: rows.map((r) => ({
          name: r.name,
          plannerMs: round(r.plannerMs),
          bestSingleMs: round(r.bestSingleMs),
          evenSplitMs: round(r.evenSplitMs),
          predictedMs: round(r.predictedMs),
        })),
      }) + '\n',
    );
    return;
  }
  process.stdout.write(`planner benchmark: emulated devices and links, median of ${args.rounds} requests per plan\n\n`);
  process.stdout.write(
    'scenario                                       planner ms  best single ms  even split ms (pipe / tensor)  predicted ms  vs single  vs even  prediction error\n',
  );
  for (const r of rows) {
    process.stdout.write(
      `${r.name.padEnd(45)}  ${r.plannerMs.toFixed(0).padStart(10)}  ${r.bestSingleMs.toFixed(0).padStart(14)}  ${`${r.evenSplitMs.toFixed(0)} (${r.evenPipelineMs.toFixed(0)} / ${r.evenTensorParallelMs.toFixed(0)})`.padStart(29)}  ${r.predictedMs.toFixed(0).padStart(12)}  ${(r.bestSingleMs / r.plannerMs).toFixed(2).padStart(8)}x  ${(r.evenSplitMs / r.plannerMs).toFixed(2).padStart(6)}x  ${(((r.predictedMs - r.plannerMs) / r.plannerMs) * 100).toFixed(1).padStart(15)}%\n`,
    );
  }
}

/** The agents that emulate a cluster file's devices and links. */
export function emulatedDevices(file: ReturnType<typeof readClusterFile>): EmulatedDevice[] {
  return file.devices.map((d) => {
    const profile = d.profile ? DEVICE_PROFILES[d.profile as keyof typeof DEVICE_PROFILES] : undefined;
    const link =
      typeof file.links.default === 'string'
        ? file.links.default
        : `${file.links.default.bandwidthMbps}:${file.links.default.latencyMs}`;
    return { name: d.name, gflops: d.gflops ?? profile!.gflops, memoryMB: d.memoryMB ?? profile?.memoryMB, link };
  });
}
