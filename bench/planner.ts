import path from 'node:path';
import type { FloatWireDtype } from '@edgerelay/proto';
import { projectRoot } from '../sim/cli/paths.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import {
  bestSingleDevicePlan,
  clusterFromFile,
  evenSplitPlan,
  planCluster,
  readClusterFile,
  readPlannerModel,
  searchOnlyPlan,
  type PlannerResult,
} from '../coordinator/planning/index.js';
import { startSimCluster, type EmulatedDevice, type SimCluster } from '../sim/index.js';
import { DEVICE_PROFILES } from '../coordinator/planning/devices.js';
import { bertBaseCheckpoint } from './models.js';
import { median, percentile } from './stats.js';
import { machineLoad } from './busy.js';
import { emulationVerdict } from './emulation-check.js';
import { classifyOnce, measureInterleaved, type Measured } from './interleave.js';
import { printPlannerReport, type PlanFigures, type Row } from './planner-report.js';

interface Scenario {
  name: string;
  file: string;
  /** bert-base shape at 128 tokens, or the SST-2 model on dev sentences (with exits). */
  model: 'bert-base' | 'sst2';
  /** overrides the cluster file's wire dtype */
  wireDtype?: FloatWireDtype;
}

const SCENARIOS: Scenario[] = [
  { name: '4x pi4 gigabit', file: '4x-pi4-gigabit.json', model: 'bert-base' },
  { name: '4x pi4 gigabit, float16 on the wire', file: '4x-pi4-gigabit-f16.json', model: 'bert-base' },
  { name: '4x pi4 gigabit, int8 on the wire', file: '4x-pi4-gigabit.json', model: 'bert-base', wireDtype: 'int8' },
  { name: 'pi4 + pi5 + orin-nano gigabit', file: 'pi4-pi5-orin-gigabit.json', model: 'bert-base' },
  { name: 'pi4 + pi5 + orin-nano wifi', file: 'pi4-pi5-orin-wifi.json', model: 'bert-base' },
  { name: '2x pi4 + orin-nano gigabit, calibrated exits', file: '2x-pi4-orin-exits.json', model: 'sst2' },
];

const PLANS = ['planner', 'bestSingle', 'evenPipeline', 'evenTensorParallel'] as const;
type PlanName = (typeof PLANS)[number];

export interface PlannerBenchArgs {
  /** rounds: every plan runs once per round, in alternating order */
  rounds: number;
  /** timed requests per plan per round (after one warm-up request) */
  requests: number;
  json?: boolean;
  only?: string;
}

/** Median request latency of the active plan (kept for callers that time one plan alone). */
export async function measure(url: string, texts: string[], rounds: number, policy: string): Promise<number> {
  await classifyOnce(url, texts[0]!, policy); // warm-up: first runs allocate
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) samples.push(await classifyOnce(url, texts[i % texts.length]!, policy));
  return median(samples);
}

export async function benchPlanner(args: PlannerBenchArgs): Promise<void> {
  const rows: Row[] = [];
  const loads = [machineLoad()];
  for (const scenario of SCENARIOS.filter(
    (s) => !args.only || s.file.includes(args.only) || s.name.includes(args.only),
  )) {
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
        .slice(0, Math.max(args.rounds * args.requests, 40));
      seqLen = Math.round(texts.reduce((s, t) => s + tokenizer.encode(t, 128).ids.length, 0) / texts.length);
    }
    const exitPolicy = file.exitRates ? 'max-prob=0.9' : 'none';
    const wireDtype = scenario.wireDtype ?? file.wireDtype ?? 'float32';
    const base = { seqLen, wireDtype, exitRates: file.exitRates, version: 1, exitThreshold: 0 } as const;
    const planner = planCluster(model, cluster, { ...base, objective: 'latency' });
    const plans: Record<PlanName, PlannerResult> = {
      planner,
      bestSingle: bestSingleDevicePlan(model, cluster, base),
      evenPipeline: evenSplitPlan(model, cluster, { ...base, style: 'pipeline' }),
      evenTensorParallel: evenSplitPlan(model, cluster, { ...base, style: 'tensor-parallel' }),
    };
    const searchPredictedMs = searchOnlyPlan(model, cluster, { ...base, objective: 'latency' }).predicted.latencyMs;
    process.stderr.write(`scenario ${scenario.name}: starting ${file.devices.length} emulated agents\n`);
    const sim = await startEmulatedCluster(file, modelDir, wireDtype);
    let measured: Map<string, Measured>;
    try {
      await sim.coordinator.linksMeasured();
      const entries = PLANS.map((name) => ({ name, plan: plans[name].plan }));
      measured = await measureInterleaved(sim, entries, texts, { ...args, policy: exitPolicy });
    } finally {
      await sim.stop();
    }
    loads.push(machineLoad());
    const figures = Object.fromEntries(
      PLANS.map((p) => {
        const m = measured.get(p)!;
        const med = median(m.samples);
        const verdict = emulationVerdict(m.counters);
        const f: PlanFigures = {
          medianMs: med,
          // spread: 10th to 90th percentile of all requests, and the round medians' range, relative to the median
          spreadPct: ((percentile(m.samples, 90) - percentile(m.samples, 10)) / med) * 100,
          roundSpreadPct: ((Math.max(...m.roundMedians) - Math.min(...m.roundMedians)) / med) * 100,
          predictedMs: plans[p].predicted.latencyMs,
          overshootPct: verdict.overshoot * 100,
          bytesPerRequest: m.counters.bytesSent / Math.max(1, m.requests),
          ...(verdict.flag && { flag: verdict.flag }),
        };
        process.stderr.write(
          `  ${p}: ${med.toFixed(0)} ms (predicted ${f.predictedMs.toFixed(0)} ms, spread ${f.spreadPct.toFixed(0)}%, ` +
            `emulation overshoot ${f.overshootPct.toFixed(1)}%${f.flag ? ', FLAGGED' : ''})\n`,
        );
        return [p, f];
      }),
    ) as Record<PlanName, PlanFigures>;
    rows.push({
      name: scenario.name,
      wireDtype,
      chosen: planner.explanation.at(-1) ?? '',
      searchPredictedMs,
      figures,
    });
  }
  printPlannerReport(rows, args, loads);
}

/** Agents emulating a cluster file's devices and links, given the time bert-base's shards take to load and run. */
export function startEmulatedCluster(
  file: ReturnType<typeof readClusterFile>,
  modelDir: string,
  wireDtype: FloatWireDtype = 'float32',
): Promise<SimCluster> {
  const devices = emulatedDevices(file);
  return startSimCluster({
    model: modelDir,
    devices,
    agents: devices.length,
    wireDtype,
    readyTimeoutMs: 600_000,
    requestTimeoutMs: 120_000,
  });
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
