/** `edgerelay eval`: parse the options, run calibration's evaluate(), print its figures. */
import type { Command } from 'commander';
import { evaluate } from '../calibration/index.js';
import { parsePositiveInt } from './number-options.js';
import { examplesProgressBar } from './progress.js';
import { textTable } from './table.js';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('accuracy of every exit on a labelled GLUE-style TSV (sentence and label columns)')
    .requiredOption('--model <dir>', 'Hugging Face model directory')
    .requiredOption('--data <file.tsv>', 'TSV with a header naming "sentence" and "label"')
    .option('--json', 'print one JSON document')
    .option('--threads <n>', 'ONNX Runtime threads', parsePositiveInt)
    .option('--max-length <n>', 'tokens per text, [CLS] and [SEP] included', parsePositiveInt)
    .option('--batch-size <n>', 'texts per batch', parsePositiveInt, 32)
    .option(
      '--ode-steps <k>',
      'parameter-shared (ALBERT) models: apply the shared layer K times, step size L/K',
      parsePositiveInt,
    )
    .option(
      '--policy <spec>',
      'also run under an exit policy: calibrated, max-prob=P, entropy=T, patience=N, dact[=S], none',
    )
    .option('--calibration <file>', 'calibration for --policy calibrated (default <model>/edgerelay-calibration.json)')
    .option(
      '--token-pruning <spec>',
      "also run with token pruning: keep=R0,R1,… (one keep ratio per layer), speedup=S (the FLOP model's schedule for S at the data's mean length), calibrated, or none",
    )
    .action(
      async (opts: {
        model: string;
        data: string;
        json?: boolean;
        threads?: number;
        maxLength?: number;
        batchSize: number;
        odeSteps?: number;
        policy?: string;
        calibration?: string;
        tokenPruning?: string;
      }) => {
        const bar = examplesProgressBar('eval');
        const result = await evaluate({ ...opts, onProgress: bar.onProgress });
        bar.stop();
        if (opts.json) {
          process.stdout.write(JSON.stringify(result) + '\n');
          return;
        }
        const rows = [
          ['exit layer', 'applications', 'accuracy', 'agreement with final'],
          ...result.exits.map((e) => [String(e.layer), String(e.applications), pct(e.accuracy), pct(e.agreement)]),
        ];
        const ode = result.stepSize !== 1 ? `, ${result.odeSteps} ODE steps of size ${result.stepSize}` : '';
        process.stdout.write(
          `${result.examples} examples${ode}\n\n${textTable(rows, ['right', 'right', 'right', 'right'])}\n`,
        );
        const p = result.policy;
        if (p) {
          process.stdout.write(
            `\npolicy ${p.name}${p.halting ? ` (halting: ${p.halting})` : ''}: accuracy ${pct(p.accuracy ?? 0)}, agreement with final ${pct(p.agreement)}, ` +
              `${p.meanLayers.toFixed(2)} layers run on average (${p.speedup.toFixed(2)}× less encoder compute)\n`,
          );
        }
        const t = result.tokenPruning;
        if (t) {
          process.stdout.write(
            `\ntoken pruning ${t.spec}${t.policy ? ` with policy ${t.policy}` : ''}: accuracy ${pct(t.accuracy ?? 0)}, ` +
              `agreement with the unpruned model ${pct(t.agreement)}, ${t.meanTokensKept.toFixed(1)} of ${t.meanTokens.toFixed(1)} tokens per layer, ` +
              `encoder FLOPs ×${t.flopsRatio.toFixed(3)} (${(1 / t.flopsRatio).toFixed(2)}× fewer)\n`,
          );
        }
      },
    );
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
