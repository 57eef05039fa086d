import type { Command } from 'commander';
import { argmax } from '../reference/index.js';
import { exitRunOf, policyFigures, resolvePolicy, type ExitRun, type PolicyFigures } from '../calibration/index.js';
import { openReferenceModel, parsePositiveInt } from './model.js';
import { readLabelledTsv } from './tsv.js';
import { examplesProgressBar } from './progress.js';

export interface ExitEvaluation {
  /** 1-based layer the exit reads */
  layer: number;
  accuracy: number;
  agreement: number;
}

export interface Evaluation {
  examples: number;
  exits: ExitEvaluation[];
  /** With options.policy: the run under that early-exit policy. */
  policy?: PolicyFigures;
}

export interface EvaluateOptions {
  model: string;
  data: string;
  threads?: number;
  maxLength?: number;
  batchSize?: number;
  /** An exit policy ('max-prob=0.9', 'dact', ... or 'calibrated') to also report the run under. */
  policy?: string;
  /** Calibration file for policy 'calibrated' (default <model>/edgerelay-calibration.json). */
  calibration?: string;
  /** Called after each batch with (done, total); the CLI draws its progress bar with it. */
  onProgress?: (done: number, total: number) => void;
}

/** Runs every exit over a labelled TSV: per-exit accuracy and agreement with the final exit. */
export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
  const examples = readLabelledTsv(options.data);
  const policy = options.policy === undefined ? undefined : resolvePolicy(options.policy, options);
  const { checkpoint, runner } = await openReferenceModel(options);
  const runs: ExitRun[] = [];
  const batchSize = options.batchSize ?? 32;
  const predictions = new Map<number, number[]>();
  try {
    for (let start = 0; start < examples.length; start += batchSize) {
      const chunk = examples.slice(start, start + batchSize).map((e) => e.sentence);
      const results = await runner.classify(chunk, batchSize);
      for (const r of results) {
        runs.push(exitRunOf(r, examples[runs.length]!.label));
        for (const e of r.exits) {
          if (!predictions.has(e.layer)) predictions.set(e.layer, []);
          predictions.get(e.layer)!.push(argmax(e.probs));
        }
      }
      options.onProgress?.(Math.min(start + batchSize, examples.length), examples.length);
    }
  } finally {
    await runner.release();
  }
  const layers = [...predictions.keys()].sort((a, b) => a - b);
  const final = predictions.get(layers[layers.length - 1]!)!;
  const share = (hits: number) => hits / examples.length;
  return {
    examples: examples.length,
    exits: layers.map((layer) => {
      const preds = predictions.get(layer)!;
      return {
        layer: layer + 1,
        accuracy: share(preds.filter((p, i) => p === examples[i]!.label).length),
        agreement: share(preds.filter((p, i) => p === final[i]).length),
      };
    }),
    ...(policy && { policy: policyFigures(policy, { numLayers: checkpoint.config.numLayers, exitLayers: checkpoint.exitLayers, numLabels: checkpoint.config.numLabels, rows: runs }) }),
  };
}

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
    .option('--policy <spec>', 'also run under an exit policy: calibrated, max-prob=P, entropy=T, patience=N, dact[=S], none')
    .option('--calibration <file>', "calibration for --policy calibrated (default <model>/edgerelay-calibration.json)")
    .action(async (opts: { model: string; data: string; json?: boolean; threads?: number; maxLength?: number; batchSize: number; policy?: string; calibration?: string }) => {
      const bar = examplesProgressBar('eval');
      const result = await evaluate({ ...opts, onProgress: bar.onProgress });
      bar.stop();
      if (opts.json) {
        process.stdout.write(JSON.stringify(result) + '\n');
        return;
      }
      process.stdout.write(`${result.examples} examples\n\nexit layer  accuracy  agreement with final\n`);
      for (const e of result.exits) {
        process.stdout.write(`${String(e.layer).padStart(10)}  ${pct(e.accuracy).padStart(8)}  ${pct(e.agreement).padStart(20)}\n`);
      }
      const p = result.policy;
      if (p) {
        process.stdout.write(
          `\npolicy ${p.name}${p.halting ? ` (halting: ${p.halting})` : ''}: accuracy ${pct(p.accuracy ?? 0)}, agreement with final ${pct(p.agreement)}, ` +
            `${p.meanLayers.toFixed(2)} layers run on average (${p.speedup.toFixed(2)}× less encoder compute)\n`,
        );
      }
    });
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
