import path from 'node:path';
import { FLOAT_WIRE_DTYPES, type FloatWireDtype } from '@edgerelay/proto';
import { projectRoot } from '../sim/cli/paths.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { readPlannerModel } from '../coordinator/planning/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import type { PlanFile } from '../coordinator/planning/index.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

/**
 * Accuracy of every exit of the SST-2 model on dev.tsv with hidden states on the wire as float32,
 * float16 and int8, in a real loopback cluster whose plan sends them everywhere they can go: a pipeline
 * hop, and three-way head groups (scatters and partial sums) from the first layer on. Each exit is measured alone: the plan
 * keeps only that exit head (and the final classifier) and the policy max-prob=0 answers at the first.
 */

const group = (host: string, order: string[]) =>
  order.map((agent, i) => ({
    agent,
    heads: [[0], [1, 2], [3]][i]!,
    ffnColumns: [[[0, 300]], [[300, 700]], [[700, 1024]]][i]! as [number, number][],
  }));
/** Two head groups of three agents with a pipeline hop between them: every exit reads int8-carried state. */
const PLAN: PlanFile = {
  stages: [
    { layers: [0, 3], host: 'agent-0', members: group('agent-0', ['agent-0', 'agent-1', 'agent-2']) },
    { layers: [3, 6], host: 'agent-1', members: group('agent-1', ['agent-1', 'agent-2', 'agent-0']) },
  ],
};

export interface WireAccuracyArgs {
  /** model directory with dev.tsv (default: the shared SST-2 fixture) */
  model?: string;
  /** dev rows to use (default: all 436) */
  rows?: number;
  json?: boolean;
}

async function exitAccuracy(
  sim: SimCluster,
  texts: string[],
  labels: number[],
  exit: number,
  final: number,
  wireDtype: FloatWireDtype,
): Promise<{ accuracy: number; bytesPerText: number }> {
  const base = sim.plan;
  await sim.coordinator.applyPlan({
    ...base,
    version: 0,
    wireDtype,
    exitLayers: exit === final ? [final] : [exit, final],
  });
  const bytesBefore = await sentBytes(sim);
  let right = 0;
  for (let i = 0; i < texts.length; i += 32) {
    const batch = texts.slice(i, i + 32);
    const res = await fetch(`${sim.url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: batch, parameters: { details: true, exit_policy: 'max-prob=0' } }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { details: { logits: number[]; exitLayer: number }[] };
    body.details.forEach((d, j) => {
      if (d.exitLayer !== exit + 1) throw new Error(`answered at layer ${d.exitLayer}, expected ${exit + 1}`);
      if (d.logits.indexOf(Math.max(...d.logits)) === labels[i + j]) right++;
    });
  }
  return { accuracy: right / texts.length, bytesPerText: ((await sentBytes(sim)) - bytesBefore) / texts.length };
}

async function sentBytes(sim: SimCluster): Promise<number> {
  const stats = await Promise.all(sim.agents.map((a) => sim.coordinator.agentStats(a.name)));
  return stats.reduce((s, x) => s + x.bytesSent, sim.coordinator.dataPlaneBytesSent);
}

export async function benchWireAccuracy(args: WireAccuracyArgs): Promise<void> {
  const modelDir = args.model ?? path.resolve(projectRoot(), '..', 'shared', 'fixtures', 'sst2-bert-6L-256H');
  const examples = readLabelledTsv(path.join(modelDir, 'dev.tsv')).slice(0, args.rows);
  const texts = examples.map((e) => e.sentence);
  const labels = examples.map((e) => e.label);
  const model = readPlannerModel(modelDir);
  const final = model.numLayers - 1;
  const planFile = path.join(mkdtempSync(path.join(tmpdir(), 'edgerelay-wire-')), 'plan.json');
  writeFileSync(planFile, JSON.stringify(PLAN));
  // Tolerant heartbeats and deadlines: this measures accuracy, not time, and may run on a busy machine.
  const sim = await startSimCluster({
    model: modelDir,
    agents: 3,
    planFile,
    heartbeatIntervalMs: 1000,
    heartbeatTimeoutMs: 15_000,
    requestTimeoutMs: 300_000,
  });
  const rows: { exitLayer: number; accuracy: Record<string, number>; bytesPerText: Record<string, number> }[] = [];
  try {
    for (const exit of model.exitLayers) {
      const row = {
        exitLayer: exit + 1,
        accuracy: {} as Record<string, number>,
        bytesPerText: {} as Record<string, number>,
      };
      for (const dtype of FLOAT_WIRE_DTYPES) {
        const r = await exitAccuracy(sim, texts, labels, exit, final, dtype);
        row.accuracy[dtype] = r.accuracy;
        row.bytesPerText[dtype] = r.bytesPerText;
        process.stderr.write(`  exit ${exit + 1}, ${dtype}: ${(r.accuracy * 100).toFixed(2)}%\n`);
      }
      rows.push(row);
    }
  } finally {
    await sim.stop();
  }
  if (args.json) {
    process.stdout.write(JSON.stringify({ rows: texts.length, exits: rows }) + '\n');
    return;
  }
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  process.stdout.write(
    `wire dtype vs accuracy on ${texts.length} dev rows of ${modelDir} (two 3-way head groups and a pipeline hop on loopback)\n\n` +
      `exit  float32   float16   int8      int8 − float32  KiB/text float32 / int8\n`,
  );
  for (const r of rows) {
    const d = (r.accuracy.int8! - r.accuracy.float32!) * 100;
    process.stdout.write(
      `${String(r.exitLayer).padStart(4)}  ${pct(r.accuracy.float32!).padEnd(8)}  ${pct(r.accuracy.float16!).padEnd(8)}  ${pct(r.accuracy.int8!).padEnd(8)}  ${`${d >= 0 ? '+' : ''}${d.toFixed(2)} points`.padEnd(14)}  ${(r.bytesPerText.float32! / 1024).toFixed(1)} / ${(r.bytesPerText.int8! / 1024).toFixed(1)}\n`,
    );
  }
}
