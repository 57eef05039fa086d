import os from 'node:os';
import path from 'node:path';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { projectRoot } from '../sim/cli/paths.js';
import { startSimCluster } from '../sim/index.js';
import { runSoak, type SoakMinute, type SoakReport } from '../sim/soak.js';
import { referenceAnswers } from './models.js';
import { writePlanFile } from './plan-files.js';

const POLICIES = ['none', 'max-prob=0.9', 'patience=2', 'entropy=0.2', 'dact'];
/** Coordinator event-loop stalls longer than this mean the machine (not edgerelay) set the pace. */
const BUSY_LOOP_DELAY_MS = 1000;

/** Short dev sentences, and long ones made of several, up to past the model's 128 positions. */
function textsOfAllLengths(sentences: string[]): string[] {
  const long = Array.from({ length: 40 }, (_, i) => sentences.slice(i * 5, i * 5 + 1 + (i % 8)).join(' '));
  return [...sentences.slice(0, 160), ...long];
}

/** Least-squares slope of y over its index: MB per minute for a series of per-minute peaks. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

function printMinute(m: SoakMinute): void {
  const rss = Object.entries(m.peakRssMB)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join('  ');
  const busy = m.coordinatorLoopDelayMaxMs > BUSY_LOOP_DELAY_MS ? '  BUSY' : '';
  process.stdout.write(
    `min ${String(m.minute + 1).padStart(2)}  ok ${String(m.answered).padStart(5)}  degraded ${m.degraded}  503 ${m.failedRetryable}  lost ${m.lost}  plans +${m.planActivations}  ` +
      `loop ${m.coordinatorLoopDelayMaxMs.toFixed(0)} ms  load ${m.loadAverage.toFixed(1)}${busy}  peak MB: ${rss}\n`,
  );
}

/** Memory trend per process over the minutes after the first (warm-up), in MB per minute. */
export function memoryTrends(
  report: SoakReport,
): { name: string; firstMB: number; lastMB: number; slopeMBPerMin: number; growing: boolean }[] {
  const rows = report.minutes.slice(1);
  const names = [...new Set(rows.flatMap((m) => Object.keys(m.peakRssMB)))];
  return names.map((name) => {
    const ys = rows.map((m) => m.peakRssMB[name] ?? 0);
    const s = slope(ys);
    const mean = ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length);
    // Noise: a few MB of allocator and GC timing; growth is a steady climb above that.
    return {
      name,
      firstMB: ys[0] ?? 0,
      lastMB: ys.at(-1) ?? 0,
      slopeMBPerMin: s,
      growing: s > Math.max(3, 0.02 * mean),
    };
  });
}

export async function benchSoak(args: {
  minutes: number;
  concurrency: number;
  json?: boolean;
  faults: boolean;
}): Promise<void> {
  const model = path.join(projectRoot(), 'models', 'sst2-bert-6L-256H');
  const texts = textsOfAllLengths(readLabelledTsv(path.join(model, 'dev.tsv')).map((e) => e.sentence));
  const expected = await referenceAnswers(model, texts);
  // A pipeline stage and a HALP group: kills and stalls hit a stage host and group members alike.
  const plan = writePlanFile({
    stages: [
      { layers: [0, 2], host: 'agent-0' },
      {
        layers: [2, 6],
        host: 'agent-1',
        members: [
          { agent: 'agent-1', heads: [0, 1], ffnColumns: [[0, 512]] },
          { agent: 'agent-2', heads: [2, 3], ffnColumns: [[512, 1024]] },
        ],
      },
    ],
  });
  const heartbeatTimeoutMs = 1200;
  const cluster = await startSimCluster({ model, agents: 3, planFile: plan, heartbeatTimeoutMs });
  if (!args.json) {
    process.stdout.write(
      `soak: ${args.minutes} min, concurrency ${args.concurrency}, ${texts.length} texts of all lengths, policies ${POLICIES.join(', ')}; ` +
        (args.faults
          ? `each minute one agent killed and restarted, one stalled ${heartbeatTimeoutMs + 1800} ms, one 60 MB frame before any handshake`
          : 'no faults (control run)') +
        ` (${os.cpus().length} cores)\n\n`,
    );
  }
  let report: SoakReport;
  try {
    report = await runSoak(cluster, {
      minutes: args.minutes,
      concurrency: args.concurrency,
      texts,
      policies: POLICIES,
      expected,
      stallMs: heartbeatTimeoutMs + 1800,
      injectFaults: args.faults,
      onMinute: args.json ? undefined : printMinute,
    });
  } finally {
    await cluster.stop();
  }
  const trends = memoryTrends(report);
  const busyMinutes = report.minutes.filter((m) => m.coordinatorLoopDelayMaxMs > BUSY_LOOP_DELAY_MS).length;
  const answeredShare = (report.answered + report.degraded) / Math.max(1, report.requests);
  const perFault = report.planActivations / Math.max(1, report.faults);
  const doc = { ...report, answeredShare, activationsPerFault: perFault, memory: trends, busyMinutes };
  if (args.json) {
    process.stdout.write(JSON.stringify(doc) + '\n');
    return;
  }
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  process.stdout.write(
    `\nrequests ${report.requests}: answered ${report.answered}, degraded ${report.degraded}, failed (retryable) ${report.failedRetryable}, lost ${report.lost} (wrong ${report.wrong})\n`,
  );
  process.stdout.write(
    `answered share       ${(answeredShare * 100).toFixed(2)}%   target ≥ 99%: ${verdict(answeredShare >= 0.99)}\n`,
  );
  process.stdout.write(`lost                 ${report.lost}        target 0: ${verdict(report.lost === 0)}\n`);
  process.stdout.write(
    `plan activations     ${report.planActivations} for ${report.faults} faults (${perFault.toFixed(2)} each)   target ≤ 3 each: ${verdict(perFault <= 3)}\n`,
  );
  for (const t of trends) {
    process.stdout.write(
      `memory ${t.name.padEnd(12)} ${t.firstMB.toFixed(0)} → ${t.lastMB.toFixed(0)} MB, trend ${t.slopeMBPerMin >= 0 ? '+' : ''}${t.slopeMBPerMin.toFixed(1)} MB/min: ${t.growing ? 'GROWING' : 'flat'}\n`,
    );
  }
  if (busyMinutes > 0)
    process.stdout.write(
      `\nWARNING: in ${busyMinutes} minute(s) the coordinator's event loop stalled over ${BUSY_LOOP_DELAY_MS} ms: the machine was busy, and those minutes' figures are distorted.\n`,
    );
}
