import type { FloatWireDtype } from '@edgerelay/proto';
import { busyWarning, type machineLoad } from './busy.js';
import { MAX_OVERSHOOT } from './emulation-check.js';

/** One plan's measurement in one scenario. */
export interface PlanFigures {
  medianMs: number;
  /** 10th to 90th percentile of all its requests, % of the median */
  spreadPct: number;
  /** largest minus smallest round median, % of the median */
  roundSpreadPct: number;
  predictedMs: number;
  /** how much longer the emulated agents' shard runs took than emulated, % */
  overshootPct: number;
  /** data-plane bytes sent per request, by the coordinator and every agent */
  bytesPerRequest: number;
  /** set when emulation could not keep up: the median is not a figure */
  flag?: string;
}

export interface Row {
  name: string;
  wireDtype: FloatWireDtype;
  /** the planner's explanation of which contender it chose */
  chosen: string;
  /** what the search alone would have picked, predicted */
  searchPredictedMs: number;
  figures: Record<'planner' | 'bestSingle' | 'evenPipeline' | 'evenTensorParallel', PlanFigures>;
}

/** A plan's median, or null when emulation could not keep up with it. */
const ms = (f: PlanFigures): number | null => (f.flag ? null : f.medianMs);
const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
const minOrNull = (a: number | null, b: number | null) => (a === null || b === null ? null : Math.min(a, b));

export function printPlannerReport(
  rows: Row[],
  args: { rounds: number; requests: number; json?: boolean },
  loads: ReturnType<typeof machineLoad>[],
): void {
  if (args.json) {
    const perPlan = (r: Row, f: (x: PlanFigures) => number) =>
      Object.fromEntries(Object.entries(r.figures).map(([k, v]) => [k, Math.round(f(v) * 10) / 10]));
    process.stdout.write(
      JSON.stringify({
        rounds: args.rounds,
        requestsPerRound: args.requests,
        maxOvershootPct: MAX_OVERSHOOT * 100,
        busy: loads.some((l) => l.busy),
        scenarios: rows.map((r) => ({
          name: r.name,
          // null: emulation could not keep up with that plan (see flagged), so there is no figure
          plannerMs: round(ms(r.figures.planner)),
          bestSingleMs: round(ms(r.figures.bestSingle)),
          evenSplitMs: round(minOrNull(ms(r.figures.evenPipeline), ms(r.figures.evenTensorParallel))),
          predictedMs: round(r.figures.planner.predictedMs),
          wireDtype: r.wireDtype,
          evenPipelineMs: round(ms(r.figures.evenPipeline)),
          evenTensorParallelMs: round(ms(r.figures.evenTensorParallel)),
          searchPredictedMs: round(r.searchPredictedMs),
          chosen: r.chosen,
          predictedMsByPlan: perPlan(r, (x) => x.predictedMs),
          spreadPct: perPlan(r, (x) => x.spreadPct),
          roundSpreadPct: perPlan(r, (x) => x.roundSpreadPct),
          emulationOvershootPct: perPlan(r, (x) => x.overshootPct),
          bytesPerRequest: perPlan(r, (x) => x.bytesPerRequest),
          flagged: Object.fromEntries(Object.entries(r.figures).flatMap(([k, v]) => (v.flag ? [[k, v.flag]] : []))),
        })),
      }) + '\n',
    );
    return;
  }
  const out = (s: string) => process.stdout.write(s);
  out(
    `planner benchmark: emulated devices and links; ${args.rounds} rounds × ${args.requests} requests per plan, ` +
      `plans interleaved round by round; median, and spread = 10th–90th percentile / median\n\n`,
  );
  const cell = (f: PlanFigures) => (f.flag ? 'FLAGGED' : `${f.medianMs.toFixed(0)} ±${(f.spreadPct / 2).toFixed(0)}%`);
  out(
    `${'scenario'.padEnd(46)} ${'wire'.padEnd(7)} ${'planner'.padStart(12)} ${'best single'.padStart(12)} ${'even pipe'.padStart(12)} ${'even tensor'.padStart(12)} ${'predicted'.padStart(9)} ${'vs single'.padStart(9)} ${'vs even'.padStart(8)} ${'pred. err'.padStart(9)} ${'KiB/req'.padStart(8)} ${'overshoot'.padStart(9)}\n`,
  );
  for (const r of rows) {
    const f = r.figures;
    const planner = ms(f.planner);
    const single = ms(f.bestSingle);
    const even = minOrNull(ms(f.evenPipeline), ms(f.evenTensorParallel));
    const ratio = (a: number | null) => (a === null || planner === null ? '—' : `${(a / planner).toFixed(2)}x`);
    const err = planner === null ? '—' : `${(((f.planner.predictedMs - planner) / planner) * 100).toFixed(1)}%`;
    const worstOvershoot = Math.max(...Object.values(f).map((x) => x.overshootPct));
    out(
      `${r.name.padEnd(46)} ${r.wireDtype.padEnd(7)} ${cell(f.planner).padStart(12)} ${cell(f.bestSingle).padStart(12)} ${cell(f.evenPipeline).padStart(12)} ${cell(f.evenTensorParallel).padStart(12)} ${f.planner.predictedMs.toFixed(0).padStart(9)} ${ratio(single).padStart(9)} ${ratio(even).padStart(8)} ${err.padStart(9)} ${(f.planner.bytesPerRequest / 1024).toFixed(0).padStart(8)} ${`${worstOvershoot.toFixed(1)}%`.padStart(9)}\n`,
    );
  }
  out('\n');
  for (const r of rows) {
    out(`${r.name}: ${r.chosen}\n`);
    for (const [plan, f] of Object.entries(r.figures)) if (f.flag) out(`  FLAGGED ${plan}: ${f.flag}\n`);
  }
  out(busyWarning(loads));
}
