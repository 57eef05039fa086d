/** `edgerelay prune-heads`: parse the options, run the head-pruning search, print its figures. */
import { Option, type Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { pruneHeads, type PruneFigures, type PruneHeadsResult, type PruneMethod } from '../pruning/index.js';
import { parseFraction, parsePositiveInt, parseSeed } from './number-options.js';
import { textTable } from './table.js';

interface PruneHeadsCliOptions {
  model: string;
  data: string;
  maxDrop: number;
  holdout: number;
  seed: number;
  budget: number;
  method: PruneMethod;
  out?: string;
  json?: boolean;
  threads?: number;
  maxLength?: number;
  batchSize?: number;
}

export function registerPruneHeads(program: Command): void {
  program
    .command('prune-heads')
    .description(
      'remove attention heads by A* search, keeping tuning accuracy within --max-drop; writes a pruned checkpoint',
    )
    .requiredOption('--model <dir>', 'Hugging Face model directory')
    .requiredOption(
      '--data <file>',
      'labelled TSV (sentence, label) or text, one example per line (agreement then stands in for accuracy)',
    )
    .option(
      '--max-drop <fraction>',
      'largest allowed accuracy drop on the tuning rows (0.005 = half a point)',
      parseFraction,
      0.005,
    )
    .option(
      '--holdout <fraction>',
      'share of rows held apart from the search to judge the result on',
      parseFraction,
      0.5,
    )
    .option('--seed <n>', 'seed of the tuning / held-apart split', parseSeed, 0)
    .option(
      '--budget <evals>',
      'most candidate evaluations; the best set found is returned when it runs out',
      parseBudget,
      500,
    )
    .addOption(
      new Option('--method <name>', 'astar, or greedy (Michel et al.: least important first, stop at the first breach)')
        .choices(['astar', 'greedy'])
        .default('astar'),
    )
    .option('--out <dir>', 'write the pruned checkpoint (weights sliced, pruned_heads in config.json) here')
    .option('--json', 'print one JSON document')
    .option('--threads <n>', 'ONNX Runtime threads', parsePositiveInt)
    .option('--max-length <n>', 'tokens per text, [CLS] and [SEP] included', parsePositiveInt)
    .option('--batch-size <n>', 'texts per batch', parsePositiveInt, 32)
    .action(async (opts: PruneHeadsCliOptions) => {
      const bar = searchProgressBar();
      let result: PruneHeadsResult;
      try {
        result = await pruneHeads({ ...opts, onProgress: bar.onProgress });
      } finally {
        bar.stop();
      }
      if (opts.json) {
        const { removed, fraction, tuning, heldApart, evaluations, seconds } = result;
        process.stdout.write(JSON.stringify({ removed, fraction, tuning, heldApart, evaluations, seconds }) + '\n');
        return;
      }
      process.stdout.write(report(result));
    });
}

function parseBudget(value: string): number {
  return parsePositiveInt(value);
}

function searchProgressBar() {
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: 'prune-heads {phase} [{bar}] {value}/{total} evaluations | best: {best} heads removed',
    },
    Presets.shades_classic,
  );
  let phase: string | undefined;
  return {
    onProgress: (p: 'importance' | 'search', done: number, total: number, best: number) => {
      if (phase !== p) {
        if (phase) bar.stop();
        bar.start(total, 0, { phase: p, best });
        phase = p;
      }
      bar.update(done, { best });
    },
    stop: () => {
      if (phase) bar.stop();
    },
  };
}

function report(r: PruneHeadsResult): string {
  const removed = new Set(r.removed.map(([l, h]) => `${l}:${h}`));
  const grid = [
    ['layer', ...Array.from({ length: r.numHeads }, (_, h) => `h${h}`), 'removed'],
    ...Array.from({ length: r.numLayers }, (_, l) => {
      const cells = Array.from({ length: r.numHeads }, (_, h) => (removed.has(`${l}:${h}`) ? 'x' : '·'));
      return [String(l), ...cells, String(cells.filter((c) => c === 'x').length)];
    }),
  ];
  const figures = [
    ['rows', 'count', 'accuracy', 'unpruned accuracy', 'agreement with unpruned'],
    row('tuning', r.tuningRows, r.tuning, r.baseline.tuning),
    row('held apart', r.heldApartRows, r.heldApart, r.baseline.heldApart),
  ];
  const search =
    `${r.method === 'astar' ? 'A*' : 'greedy'}: ${r.evaluations} evaluations (${r.searchEvaluations} in the search), ` +
    `${r.seconds.toFixed(1)} s, ${r.layersPerEvaluation.toFixed(2)} of ${r.numLayers} layers run per evaluation` +
    (r.method === 'astar'
      ? r.optimal
        ? ', finished: no set in the search space removes more heads'
        : ', stopped by --budget: best set found'
      : '');
  return (
    `removed ${r.removed.length} of ${r.totalHeads} heads (${pct(r.fraction)}); x = removed\n\n` +
    `${textTable(
      grid,
      grid[0]!.map(() => 'right'),
    )}\n\n${textTable(figures, ['left', 'right', 'right', 'right', 'right'])}\n\n` +
    `${search}\n${r.out ? `pruned checkpoint written to ${r.out}\n` : ''}`
  );
}

function row(name: string, count: number, f: PruneFigures, base: PruneFigures): string[] {
  const p = (x: number | null) => (x === null ? 'n/a' : pct(x));
  return [name, String(count), p(f.accuracy), p(base.accuracy), p(f.agreement)];
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
