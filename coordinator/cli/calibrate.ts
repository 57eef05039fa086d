/** `edgerelay calibrate`: tune the early-exit policy of a model to a target, store it beside the model. */
import { InvalidArgumentError, type Command } from 'commander';
import {
  calibrate,
  calibrateWithOdeSteps,
  formatChoice,
  formatOdeSweep,
  formatPruning,
  formatTable,
  parsePolicyList,
  parseTarget,
  SWEPT_POLICIES,
} from '../calibration/index.js';
import { parsePositiveInt, parseSeed } from './number-options.js';
import { examplesProgressBar } from './progress.js';

interface CalibrateCliOptions {
  model: string;
  data: string;
  target: string;
  policy: string;
  holdout: number;
  seed: number;
  out?: string;
  plot?: string;
  json?: boolean;
  all?: boolean;
  threads?: number;
  maxLength?: number;
  batchSize: number;
  odeSteps?: number[];
  tokenPruning?: boolean;
}

export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description(
      'sweep the early-exit policies on a data set, pick the setting that meets a target, and store it with the model',
    )
    .requiredOption('--model <dir>', 'Hugging Face model directory with exit heads')
    .requiredOption('--data <file>', 'labelled TSV (sentence, label) or unlabelled text, one example per line')
    .option(
      '--target <spec>',
      'accuracy-drop=D (fastest setting losing at most D) or speedup=S (most accurate at S× less compute)',
      'accuracy-drop=0.01',
    )
    .option(
      '--policy <list>',
      `policies to consider, comma-separated (${SWEPT_POLICIES.join(',')})`,
      SWEPT_POLICIES.join(','),
    )
    .option(
      '--holdout <fraction>',
      'share of rows held apart from tuning to report unbiased figures (0 = none)',
      parseFraction,
      0.5,
    )
    .option('--seed <n>', 'seed of the tuning / held-apart split', parseSeed, 0)
    .option('--out <file>', 'calibration JSON to write (default <model>/edgerelay-calibration.json)')
    .option('--plot <file.png>', 'PNG of the speed-accuracy curves (default: the JSON path with .png)')
    .option('--all', 'print every setting tried, not a thinned table')
    .option('--json', 'print the calibration record as JSON instead of the tables')
    .option('--threads <n>', 'ONNX Runtime threads', parsePositiveInt)
    .option('--max-length <n>', 'tokens per text, [CLS] and [SEP] included', parsePositiveInt)
    .option('--batch-size <n>', 'texts per batch', parsePositiveInt, 32)
    .option(
      '--ode-steps <list>',
      'parameter-shared (ALBERT) models: also sweep the ODE step counts K, comma-separated (e.g. 6,4,3,2)',
      parseStepList,
    )
    .option(
      '--token-pruning',
      'also sweep token-pruning schedules, alone and with the policies (--policy none: pruning alone), and store the cheapest meeting the target',
    )
    .action(async (opts: CalibrateCliOptions) => {
      const target = parseTarget(opts.target);
      // `none` tunes no exit policy: with --token-pruning, pruning alone.
      const policies = opts.policy.trim() === 'none' ? [] : parsePolicyList(opts.policy);
      const bar = examplesProgressBar('calibrate');
      const { odeSteps, ...rest } = opts;
      if (odeSteps && opts.tokenPruning)
        throw new InvalidArgumentError(
          '--ode-steps and --token-pruning cannot be swept together yet: run them one at a time',
        );
      const run = { ...rest, target, policies, onProgress: bar.onProgress };
      const { record, out, plot } = odeSteps ? await calibrateWithOdeSteps(run, odeSteps) : await calibrate(run);
      bar.stop();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(record)}\n`);
        return;
      }
      const what = record.labelled ? 'labelled' : 'unlabelled (agreement with the final exit stands in for accuracy)';
      process.stdout.write(
        `${record.split.tuningRows + record.split.heldOutRows} ${what} rows; speed-accuracy on the ${record.split.tuningRows} tuning rows:\n\n`,
      );
      process.stdout.write(
        `${formatTable(record, opts.all)}\n\n${formatChoice(record)}\n${formatOdeSweep(record)}${record.pruning ? `\n${formatPruning(record.pruning)}\n` : ''}\nwrote ${out}\nplot  ${plot}\n`,
      );
    });
}

/** Unlike number-options' parseFraction, its message gives an example. */
function parseFraction(value: string): number {
  const x = Number(value);
  if (!Number.isFinite(x) || x < 0 || x >= 1) throw new InvalidArgumentError('expected a fraction in [0, 1), e.g. 0.5');
  return x;
}

function parseStepList(value: string): number[] {
  const steps = value.split(',').map((s) => Number(s.trim()));
  if (steps.length === 0 || steps.some((k) => !Number.isInteger(k) || k < 1))
    throw new InvalidArgumentError('expected positive integers, comma-separated, e.g. 6,4,3,2');
  return steps;
}
