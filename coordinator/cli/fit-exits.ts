/** `edgerelay fit-exits`: self-distil exit heads for a checkpoint that has none (or replace its own). */
import { SingleBar, Presets } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { fitExits, type LayerFit } from '../distill/index.js';
import { addTrainingOptions, type TrainingCliOptions } from './training-options.js';
import { textTable } from './table.js';

interface FitExitsCliOptions extends TrainingCliOptions {
  layers?: number[];
}

export function registerFitExits(program: Command): void {
  addTrainingOptions(
    program
      .command('fit-exits')
      .description(
        'fit an exit head after every layer by distilling the final classifier on unlabelled text (backbone frozen); writes a model directory in DeeBERT layout',
      )
      .requiredOption('--model <dir>', 'Hugging Face model directory with a classifier')
      .requiredOption(
        '--data <file>',
        'unlabelled text, one example per line (a TSV with a sentence column also works)',
      )
      .option('--out <dir>', 'model directory to write (default: <model>-exits beside the model)')
      .option(
        '--layers <list>',
        '0-based layers to put exits after, comma-separated (default: all but the last)',
        parseLayerList,
      ),
    {
      epochs: 4,
      epochsHelp: 'passes over the text per head',
      lr: 1e-3,
      validationHelp: 'share of the text (its last lines) kept apart to report the loss on',
    },
  ).action(async (opts: FitExitsCliOptions) => {
    const bar = new SingleBar(
      { stream: process.stderr, format: 'features [{bar}] {value}/{total} texts' },
      Presets.shades_classic,
    );
    let started = false;
    const fits: LayerFit[] = [];
    const result = await fitExits({
      ...opts,
      learningRate: opts.lr,
      onProgress: (done, total) => {
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
        if (done === total) bar.stop();
      },
      onLayer: (fit) => {
        fits.push(fit);
        if (!opts.json) process.stderr.write(`fitted the exit after layer ${fit.layer + 1}\n`);
      },
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const f = (x?: number) => (x === undefined ? '-' : x.toFixed(5));
    process.stdout.write(
      `KL(final ‖ exit), ${result.trainRows} training and ${result.validationRows} validation texts:\n\n`,
    );
    const rows = [
      ['exit layer', 'train before', 'train after', 'val before', 'val after'],
      ...result.layers.map((r) => [
        String(r.layer + 1),
        f(r.trainBefore),
        f(r.trainAfter),
        f(r.validationBefore),
        f(r.validationAfter),
      ]),
    ];
    process.stdout.write(`${textTable(rows, ['right', 'right', 'right', 'right', 'right'])}\n`);
    process.stdout.write(
      `\nwrote ${result.out} (exits after layers ${result.exitLayers.map((l) => l + 1).join(', ')}) in ${result.seconds.toFixed(1)} s\n` +
        `next: edgerelay calibrate --model ${result.out} --data FILE\n`,
    );
  });
}

function parseLayerList(value: string): number[] {
  const layers = value.split(',').map((s) => Number(s.trim()));
  if (layers.some((l) => !Number.isInteger(l) || l < 0))
    throw new InvalidArgumentError('expected 0-based layer numbers, e.g. 0,1,2');
  return layers;
}
