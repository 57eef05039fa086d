/**
 * Calibration over ODE steps (parameter-shared models): run the rows at each step count K, sweep the exit
 * policies at each, judge every setting against the ordinary model's final exit, and keep the cheapest
 * (K, policy) that meets the target. The cost is layer applications, so K = 3 with no exit costs 3 of 6.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { argmaxOf } from '@edgerelay/device-agent';
import { readTextExamples } from '../datasets/index.js';
import { openReferenceModel } from '../reference/index.js';
import { calibrateRuns, type CalibrationRecord, type OdeStepsChoice } from './calibrate.js';
import { collectExitRuns, selectRows, type ExitRuns } from './collect.js';
import { simulatePolicy } from './simulate.js';
import { splitRows } from './split.js';
import { meetsTarget } from './target.js';
import { plotCalibration } from './plot.js';
import type { CalibrateOptions, CalibrateResult } from './run.js';
import { defaultCalibrationPath, writeCalibration } from './store.js';
import type { CalibrationTarget } from './target.js';
import { formatSummary } from './report.js';

/** Each K's runs, with the full model's final prediction as every row's reference. */
export async function collectOdeRuns(options: CalibrateOptions, steps: number[]): Promise<Map<number, ExitRuns>> {
  const data = readTextExamples(options.data);
  const { checkpoint, runner } = await openReferenceModel(options);
  try {
    const L = checkpoint.config.numLayers;
    const collect = (K: number) =>
      collectExitRuns(runner, checkpoint, data.texts, data.labels, { ...options, odeSteps: K });
    const full = await collect(L);
    const reference = full.rows.map((r) => argmaxOf(r.probs[r.probs.length - 1]!));
    const out = new Map<number, ExitRuns>();
    for (const K of [...new Set(steps)].sort((a, b) => b - a)) {
      const runs = K === L ? full : await collect(K);
      out.set(K, { ...runs, rows: runs.rows.map((r, i) => ({ ...r, reference: reference[i]! })) });
    }
    return out;
  } finally {
    await runner.release();
  }
}

/** calibrateRuns at every K (same split), then the cheapest K whose best setting meets the target. */
export function calibrateOdeRuns(
  byK: Map<number, ExitRuns>,
  options: Parameters<typeof calibrateRuns>[1],
): CalibrationRecord {
  const records = [...byK.entries()].map(([K, runs]) => {
    const record = calibrateRuns(runs, options);
    const split = splitRows(runs.rows.length, options.holdout ?? 0.5, options.seed ?? 0);
    // calibrateRuns falls back to "none" as losing nothing; with fewer steps it can lose: judge it.
    if (record.policy === 'none' && K < runs.numLayers) {
      record.met = meetsTarget(simulatePolicy({ kind: 'none' }, selectRows(runs, split.tuning)), options.target);
    }
    const held = split.heldOut.length > 0;
    const plain = simulatePolicy({ kind: 'none' }, selectRows(runs, held ? split.heldOut : split.tuning));
    const withoutExits: OdeStepsChoice['withoutExits'] = {
      rows: held ? 'held-apart' : 'tuning',
      ...(plain.accuracy !== undefined && { accuracy: plain.accuracy }),
      agreement: plain.agreement,
      meanLayers: plain.meanLayers,
    };
    return { K, record, withoutExits };
  });
  const sweep: OdeStepsChoice[] = records.map(({ K, record, withoutExits }) => ({
    odeSteps: K,
    policy: record.policy,
    met: record.met,
    tuning: record.tuning,
    ...(record.heldOut && { heldOut: record.heldOut }),
    withoutExits,
  }));
  const best = pick(records, options.target);
  return { ...best.record, odeSteps: best.K, odeSweep: sweep };
}

function pick(
  records: { K: number; record: CalibrationRecord }[],
  target: CalibrationTarget,
): { K: number; record: CalibrationRecord } {
  const met = records.filter((r) => r.record.met);
  const pool = met.length > 0 ? met : records;
  const drop = (r: CalibrationRecord) => r.tuning.accuracyDrop ?? 1 - r.tuning.agreement;
  return [...pool].sort((a, b) =>
    target.kind === 'accuracy-drop'
      ? a.record.tuning.meanLayers - b.record.tuning.meanLayers || drop(a.record) - drop(b.record)
      : drop(a.record) - drop(b.record) || a.record.tuning.meanLayers - b.record.tuning.meanLayers,
  )[0]!;
}

export async function calibrateWithOdeSteps(options: CalibrateOptions, steps: number[]): Promise<CalibrateResult> {
  const byK = await collectOdeRuns(options, steps);
  const record = calibrateOdeRuns(byK, { ...options, model: resolve(options.model), data: resolve(options.data) });
  const out = resolve(options.out ?? defaultCalibrationPath(options.model));
  const plot = resolve(options.plot ?? out.replace(/\.json$/i, '') + '.png');
  writeCalibration(out, record);
  writeFileSync(plot, await plotCalibration(record));
  return { record, out, plot };
}

/** The per-K lines `edgerelay calibrate --ode-steps` prints (empty without a sweep). */
export function formatOdeSweep(record: CalibrationRecord): string {
  if (!record.odeSweep) return '';
  const lines = [
    `ODE steps (judged against the ${record.numLayers}-step model's final exit; chosen K = ${record.odeSteps}):`,
  ];
  for (const c of record.odeSweep) {
    const held = c.heldOut ? `; held apart: ${formatSummary(c.heldOut)}` : '';
    lines.push(
      `  K = ${c.odeSteps}: ${c.policy}${c.met ? '' : ' (target not met)'}: ${formatSummary(c.tuning)}${held}`,
    );
    const w = c.withoutExits;
    const acc = w.accuracy === undefined ? '' : `accuracy ${(100 * w.accuracy).toFixed(2)}%, `;
    lines.push(
      `         without exits (${w.rows} rows): ${w.meanLayers} applications, ${acc}agreement ${(100 * w.agreement).toFixed(2)}%`,
    );
  }
  return `${lines.join('\n')}\n`;
}
