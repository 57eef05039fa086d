import path from 'node:path';
import { levenbergMarquardt } from 'ml-levenberg-marquardt';
import { floatWireDtype, fromWire, toWire, type Plan__Output as Plan } from '@edgerelay/proto';
import { projectRoot } from '../sim/cli/paths.js';
import {
  bestSingleDevicePlan,
  clusterFromFile,
  DEFAULT_COST_PARAMS,
  evenSplitPlan,
  predictPlan,
  readClusterFile,
  readPlannerModel,
  type ClusterModel,
  type CostParams,
  type PlannerModel,
} from '../coordinator/planning/index.js';
import { bertBaseCheckpoint } from './models.js';
import { startEmulatedCluster } from './planner.js';
import { measureInterleaved } from './interleave.js';
import { median } from './stats.js';
import { emulationVerdict } from './emulation-check.js';
import { busyWarning, machineLoad } from './busy.js';

/**
 * Re-fits the cost model's free parameters (docs/planner.md) against measured request times of plans of every
 * form (one device, pipelines, host-gather, sequence- and position-parallel groups of 2 to 4) on emulated clusters, at
 * sequence lengths the planner benchmark does not use (it runs 128 tokens), so that benchmark judges the fit on
 * shapes it was not fitted to. Prints each plan's measured time, the prediction before and after, and the fit.
 */

export interface CostFitArgs {
  seqLens: number[];
  rounds: number;
  requests: number;
  json?: boolean;
}

/** The parameters fitted, with the scale each is searched in (so one step size suits all). */
const FITTED = [
  { name: 'efficiency', scale: 1, min: 0.2, max: 4 },
  { name: 'smallRunRows', scale: 10, min: 0, max: 30 },
  { name: 'featureMajorRunRows', scale: 10, min: 0, max: 30 },
  { name: 'opOverheadMs', scale: 1, min: 0, max: 20 },
  { name: 'opOverheadFlopsPerValue', scale: 1000, min: 0, max: 30 },
  { name: 'messageOverheadMs', scale: 1, min: 0, max: 20 },
  { name: 'float16CodingMsPerMValue', scale: 10, min: 0, max: 20 },
  { name: 'int8CodingMsPerMValue', scale: 10, min: 0, max: 20 },
] as const satisfies readonly { name: keyof CostParams; scale: number; min: number; max: number }[];

type Fitted = Record<(typeof FITTED)[number]['name'], number>;

/**
 * The coding of a low-precision wire in isolation, for comparison with the fitted figure: encoding and
 * decoding a [1, 128, 768] hidden state in this process, interleaved, the median of 31 (per million values).
 * In a cluster the agents code at the same moments on shared cores, which the fit sees and this does not.
 */
function measureCoding(): Pick<CostParams, 'float16CodingMsPerMValue' | 'int8CodingMsPerMValue'> {
  const values = 128 * 768;
  const t = {
    dtype: 'float32' as const,
    data: new Float32Array(values).map((_, i) => Math.sin(i)),
    dims: [1, 128, 768],
  };
  const samples = { float16: [] as number[], int8: [] as number[] };
  for (let i = 0; i < 31; i++)
    for (const dtype of ['float16', 'int8'] as const) {
      const t0 = performance.now();
      fromWire(toWire(t, dtype));
      samples[dtype].push(((performance.now() - t0) / values) * 1e6);
    }
  return { float16CodingMsPerMValue: median(samples.float16), int8CodingMsPerMValue: median(samples.int8) };
}

interface Point {
  cluster: string;
  plan: string;
  seqLen: number;
  measuredMs: number;
  flag?: string;
  predict: (cost: Partial<CostParams>) => number;
}

const CLUSTERS = ['4x-pi4-gigabit.json', 'pi4-pi5-orin-gigabit.json'];

function subCluster(file: ReturnType<typeof readClusterFile>, names: string[]): ClusterModel {
  return clusterFromFile({ ...file, devices: file.devices.filter((d) => names.includes(d.name)) });
}

function asSequenceParallel(plan: Plan): Plan {
  return { ...plan, stages: plan.stages.map((s) => (s.members.length > 0 ? { ...s, form: 'sequence-parallel' } : s)) };
}

/** The same groups position-parallel: every member holds whole layers (all heads, all columns), the host among them. */
function asPositionParallel(plan: Plan, model: PlannerModel): Plan {
  const heads = Array.from({ length: model.numHeads }, (_, i) => i);
  const columns = Array.from({ length: model.intermediateSize }, (_, i) => i);
  return {
    ...plan,
    stages: plan.stages.map((s) =>
      s.members.length > 0
        ? {
            ...s,
            form: 'position-parallel',
            members: s.members.map((m) => ({ ...m, heads: [...heads], ffnColumns: [...columns] })),
          }
        : s,
    ),
  };
}

/** "1 stage: group of 4 (sequence-parallel)", "2 stages", "1 stage on pi4-a". */
function describe(plan: Plan): string {
  const s = plan.stages;
  if (s.length === 1 && s[0]!.members.length === 0) return `${s[0]!.host} alone`;
  const groups = s.filter((x) => x.members.length > 0);
  if (groups.length === 0) return `pipeline of ${s.length}`;
  const n = Math.max(...groups.map((g) => g.members.length));
  const wire = plan.wireDtype && plan.wireDtype !== 'float32' ? `, ${plan.wireDtype} wire` : '';
  return `${s.length > 1 ? `${s.length} stages, ` : ''}group of ${n} (${groups[0]!.form || 'host-gather'}${wire})`;
}

/** The plans of a cluster file: each form on two devices and on all of them, and each kind of device alone. */
function plansFor(model: PlannerModel, file: ReturnType<typeof readClusterFile>, seqLen: number): Plan[] {
  const base = { seqLen, wireDtype: 'float32', version: 1, exitThreshold: 0 } as const;
  const names = file.devices.map((d) => d.name);
  const plans: Plan[] = [];
  const kinds = new Map(file.devices.map((d) => [d.profile ?? d.name, d.name]));
  for (const name of kinds.values()) plans.push(bestSingleDevicePlan(model, subCluster(file, [name]), base).plan);
  for (const group of [names.slice(0, 2), names]) {
    const sub = subCluster(file, group);
    plans.push(evenSplitPlan(model, sub, { ...base, style: 'pipeline' }).plan);
    const tp = evenSplitPlan(model, sub, { ...base, style: 'tensor-parallel' }).plan;
    plans.push(tp, asSequenceParallel(tp), asPositionParallel(tp, model));
  }
  // The largest groups again with float16 and int8 on the wire: fewer bytes, and the coding of every message.
  for (const wireDtype of ['float16', 'int8'] as const) {
    const low = evenSplitPlan(model, subCluster(file, names), { ...base, wireDtype, style: 'tensor-parallel' });
    plans.push(low.plan, asSequenceParallel(low.plan), asPositionParallel(low.plan, model));
  }
  // Equal plans from different groups (an even split that used fewer devices) are measured once.
  const seen = new Set<string>();
  return plans.filter((p) => {
    const key = JSON.stringify([p.stages, p.wireDtype]);
    return !seen.has(key) && !!seen.add(key);
  });
}

function toCost(values: number[]): Fitted {
  return Object.fromEntries(FITTED.map((f, i) => [f.name, values[i]! * f.scale])) as Fitted;
}

export async function benchCostFit(args: CostFitArgs): Promise<void> {
  const modelDir = await bertBaseCheckpoint();
  const model = readPlannerModel(modelDir);
  const points: Point[] = [];
  const loads = [machineLoad()];
  for (const clusterFile of CLUSTERS) {
    const file = readClusterFile(path.join(projectRoot(), 'sim', 'clusters', clusterFile));
    const cluster = clusterFromFile(file);
    const entries = args.seqLens.flatMap((seqLen) =>
      plansFor(model, file, seqLen).map((plan) => ({ seqLen, plan, name: `${describe(plan)} @${seqLen}` })),
    );
    process.stderr.write(
      `cost-fit ${clusterFile}: ${entries.length} plans on ${file.devices.length} emulated agents\n`,
    );
    const sim = await startEmulatedCluster(file, modelDir);
    try {
      await sim.coordinator.linksMeasured();
      for (const seqLen of args.seqLens) {
        const text = Array.from({ length: seqLen - 2 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ');
        const mine = entries.filter((e) => e.seqLen === seqLen);
        const measured = await measureInterleaved(sim, mine, [text], args);
        for (const e of mine) {
          const m = measured.get(e.name)!;
          const verdict = emulationVerdict(m.counters);
          const point: Point = {
            cluster: clusterFile,
            plan: e.name,
            seqLen,
            measuredMs: median(m.samples),
            ...(verdict.flag && { flag: verdict.flag }),
            predict: (cost) =>
              predictPlan(e.plan, cluster, model, { seqLen, wireDtype: floatWireDtype(e.plan.wireDtype), cost })
                .latencyMs,
          };
          process.stderr.write(
            `  ${e.name}: ${point.measuredMs.toFixed(0)} ms, predicted ${point.predict({}).toFixed(0)} ms${point.flag ? ' FLAGGED' : ''}\n`,
          );
          points.push(point);
        }
      }
    } finally {
      await sim.stop();
    }
    loads.push(machineLoad());
  }
  report(points, fit(points), measureCoding(), loads, args);
}

/** Least squares on log time (relative errors weigh alike for a 50 ms and a 3 s plan), flagged points left out. */
function fit(points: Point[]): Fitted {
  const used = points.filter((p) => !p.flag);
  if (used.length < FITTED.length) throw new Error(`only ${used.length} unflagged measurements: too few to fit`);
  const result = levenbergMarquardt(
    { x: used.map((_, i) => i), y: used.map((p) => Math.log(p.measuredMs)) },
    (values: number[]) => (i: number) => Math.log(used[i]!.predict(toCost(values))),
    {
      initialValues: FITTED.map((f) => (DEFAULT_COST_PARAMS[f.name] || f.max / 100) / f.scale),
      minValues: FITTED.map((f) => f.min),
      maxValues: FITTED.map((f) => f.max),
      gradientDifference: 1e-3,
      centralDifference: true,
      maxIterations: 200,
      errorTolerance: 1e-9,
    },
  );
  return toCost(result.parameterValues);
}

function report(
  points: Point[],
  fitted: Fitted,
  isolated: ReturnType<typeof measureCoding>,
  loads: ReturnType<typeof machineLoad>[],
  args: CostFitArgs,
): void {
  const before = (p: Point) => p.predict({});
  const after = (p: Point) => p.predict(fitted);
  const err = (pred: number, p: Point) => (pred - p.measuredMs) / p.measuredMs;
  const rms = (f: (p: Point) => number) => {
    const used = points.filter((p) => !p.flag);
    return Math.sqrt(used.reduce((s, p) => s + err(f(p), p) ** 2, 0) / Math.max(1, used.length));
  };
  if (args.json) {
    process.stdout.write(
      JSON.stringify({
        fitted,
        defaults: Object.fromEntries(FITTED.map((f) => [f.name, DEFAULT_COST_PARAMS[f.name]])),
        codingInIsolation: isolated,
        rmsErrorBefore: rms(before),
        rmsErrorAfter: rms(after),
        loadAverages: loads.map((l) => l.loadAverage),
        busy: loads.some((l) => l.busy),
        points: points.map((p) => ({
          cluster: p.cluster,
          plan: p.plan,
          seqLen: p.seqLen,
          measuredMs: p.measuredMs,
          predictedBeforeMs: before(p),
          predictedAfterMs: after(p),
          flag: p.flag ?? null,
        })),
      }) + '\n',
    );
    return;
  }
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)}%`;
  console.log('| cluster | plan | measured ms | predicted before | predicted after |');
  console.log('|---|---|---|---|---|');
  for (const p of points)
    console.log(
      `| ${p.cluster.replace('.json', '')} | ${p.plan} | ${p.measuredMs.toFixed(0)}${p.flag ? ' **FLAGGED**' : ''} | ` +
        `${before(p).toFixed(0)} (${pct(err(before(p), p))}) | ${after(p).toFixed(0)} (${pct(err(after(p), p))}) |`,
    );
  console.log(`\nfitted: ${FITTED.map((f) => `${f.name} ${fitted[f.name].toPrecision(3)}`).join(', ')}`);
  console.log(
    `coding in isolation (one process, for comparison): float16 ${isolated.float16CodingMsPerMValue.toPrecision(3)}, ` +
      `int8 ${isolated.int8CodingMsPerMValue.toPrecision(3)} ms per million values`,
  );
  console.log(
    `was:    ${FITTED.map((f) => `${f.name} ${DEFAULT_COST_PARAMS[f.name]}`).join(', ')}\n` +
      `RMS relative error ${(rms(before) * 100).toFixed(1)}% before, ${(rms(after) * 100).toFixed(1)}% after ` +
      `(flagged points left out); load averages ${loads.map((l) => l.loadAverage.toFixed(2)).join(' → ')}`,
  );
  process.stdout.write(busyWarning(loads));
}
