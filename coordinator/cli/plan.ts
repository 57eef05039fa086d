/** `edgerelay plan`: parse the options, plan with planning's planFromFiles, print the report. */
import type { Command } from 'commander';
import { parseWireDtype } from './coordinator.js';
import {
  planFromFiles,
  type Objective,
  type PlanFromFilesOptions,
  type PlannerOptions,
  type PlannerResult,
  type PlanReport,
} from '../planning/index.js';
import { parsePositiveInt } from './number-options.js';
import { textTable } from './table.js';

interface PlanCommandOptions extends PlanFromFilesOptions {
  json?: boolean;
}

function parseObjective(value: string): Objective {
  if (value !== 'latency' && value !== 'throughput') throw new Error('expected latency or throughput');
  return value;
}

function parseFraction(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1))
    throw new Error(`expected a fraction between 0 and 1, got "${value}"`);
  return n;
}

function parseRates(value: string): number[] {
  return value.split(',').map((v) => parseFraction(v));
}

const f1 = (x: number) => x.toFixed(1);

/** Text columns left, figures (compute, transfer, reach) right. */
const STAGE_COLUMNS = ['left', 'left', 'left', 'left', 'right', 'right', 'right'] as const;

export function formatPlanReport(
  report: PlanReport,
  options: PlannerOptions,
  modelDir: string,
  clusterFile: string,
  exitRatesSource: string,
): string {
  const { predicted } = report;
  const rows = [['stage', 'layers', 'devices', 'heads/FFN shares', 'compute ms', 'transfer ms', 'reach']];
  predicted.stages.forEach((s, i) => {
    const devices = s.members.length
      ? s.members.map((m) => (m.agent === s.host ? `${m.agent}*` : m.agent)).join(', ')
      : s.host;
    const shares = s.members.length
      ? s.members
          .map((m) => `${m.agent} ${m.heads}h/${m.columns}c${m.positions === undefined ? '' : `/${m.positions}p`}`)
          .join(', ') + ` (${s.form ?? 'host-gather'})`
      : 'whole layers';
    rows.push([
      String(i + 1),
      `${s.layers[0] + 1}–${s.layers[1]}`,
      devices,
      shares,
      f1(s.computeMs),
      f1(s.transferMs),
      `${(s.reachProbability * 100).toFixed(0)}%`,
    ]);
  });
  const lines = [
    `plan for ${modelDir} on ${clusterFile}: objective ${options.objective}, ${options.seqLen} tokens, ${options.wireDtype} on the wire, ` +
      `exit rates: ${exitRatesSource}`,
    '',
    textTable(rows, STAGE_COLUMNS),
    predicted.stages.some((s) => s.members.length)
      ? `(* group host; h = heads, c = FFN columns, p = positions of ${options.seqLen}; host-gather: the host gathers every partial, sequence-parallel: members exchange rows, position-parallel: members hold whole layers and split the positions)`
      : '',
    `predicted latency ${f1(predicted.latencyMs)} ms expected (${f1(predicted.fullPathMs)} ms when every layer runs), ` +
      `throughput ${predicted.throughputRps.toFixed(2)} requests/s`,
  ];
  if (report.baselines) {
    const b = report.baselines;
    const line = (name: string, r: PlannerResult | { error: string }) =>
      'error' in r
        ? `  ${name}: ${r.error}`
        : `  ${name}: ${f1(r.predicted.latencyMs)} ms, ${r.predicted.throughputRps.toFixed(2)} requests/s${r.predicted.fits ? '' : ' (cannot run: out of memory)'}`;
    lines.push(
      '',
      'baselines (same cost model):',
      line('even pipeline', b.evenPipeline),
      line('even tensor-parallel', b.evenTensorParallel),
      line('best single device', b.bestSingle),
    );
  }
  lines.push('', 'why:', ...report.explanation.map((e) => `  - ${e}`));
  return lines.filter((l, i, all) => !(l === '' && all[i - 1] === '')).join('\n') + '\n';
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description(
      'plan a model over a described cluster (HALP-style stages and head groups) and print the predicted latency',
    )
    .requiredOption('--model <dir>', 'model directory; config.json alone is enough')
    .requiredOption('--cluster <file>', 'cluster description (JSON), e.g. sim/clusters/pi4-pi5-orin-gigabit.json')
    .option('--objective <objective>', 'latency (expected, exit-aware) or throughput', parseObjective, 'latency')
    .option('--seq-len <n>', "tokens per request (default: the cluster file's, else 128)", parsePositiveInt)
    .option(
      '--wire-dtype <dtype>',
      "hidden states between devices as float32, float16 or int8 (default: the cluster file's)",
      parseWireDtype,
    )
    .option('--exit-threshold <p>', 'early-exit threshold written into the plan', parseFraction, 0.9)
    .option(
      '--calibration <file>',
      'JSON with "exitRates" (fraction answered at each exit layer), from edgerelay calibrate',
    )
    .option('--exit-rates <list>', 'exit rates inline, e.g. 0.6,0.2,0.1 (overrides --calibration)', parseRates)
    .option(
      '--token-pruning <spec>',
      'cost each layer and hop at the tokens a keep=R0,R1,… schedule leaves (docs/token-pruning.md)',
    )
    .option('--baselines', 'also cost the even splits and the best single device')
    .option(
      '--ode-steps <k>',
      'parameter-shared (ALBERT) models: cost K applications of the shared layer',
      parsePositiveInt,
    )
    .option('--json', 'print { plan, predicted, explanation } as JSON')
    .action((opts: PlanCommandOptions) => {
      const { report, options, exitRatesSource } = planFromFiles(opts);
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(formatPlanReport(report, options, opts.model, opts.cluster, exitRatesSource));
    });
}
