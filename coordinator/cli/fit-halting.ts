/** `edgerelay fit-halting`: train DACT halting units for a checkpoint's exits (backbone and heads frozen). */
import { SingleBar, Presets } from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_PONDER, fitHalting, type HaltingObjective } from '../distill/index.js';
import { addTrainingOptions, type TrainingCliOptions } from './training-options.js';

interface FitHaltingCliOptions extends TrainingCliOptions {
  ponder: number;
}

export function registerFitHalting(program: Command): void {
  addTrainingOptions(
    program
      .command('fit-halting')
      .description(
        'train a DACT halting unit for every exit but the last (backbone and exit heads frozen); writes halting.safetensors beside the model, which the dact policy then uses',
      )
      .requiredOption('--model <dir>', 'Hugging Face model directory with exit heads')
      .requiredOption(
        '--data <file>',
        'labelled TSV (sentence, label: loss against the label) or text, one example per line (loss against the final exit)',
      )
      .option(
        '--ponder <tau>',
        'τ, the weight of the ponder cost (DACT used 0.001 to 0.05)',
        parseNonNegative,
        DEFAULT_PONDER,
      )
      .option('--out <dir>', 'write a copy of the model with the units here (default: the units go into --model)'),
    {
      epochs: 40,
      epochsHelp: 'passes over the data',
      lr: 0.01,
      validationHelp: 'share of the rows (the last lines) kept apart to report the objective on',
    },
  ).action(async (opts: FitHaltingCliOptions) => {
    const features = new SingleBar(
      { stream: process.stderr, format: 'features [{bar}] {value}/{total} texts' },
      Presets.shades_classic,
    );
    const training = new SingleBar(
      { stream: process.stderr, format: 'training [{bar}] {value}/{total} epochs' },
      Presets.shades_classic,
    );
    let featuresStarted = false;
    let trainingStarted = false;
    const result = await fitHalting({
      ...opts,
      learningRate: opts.lr,
      onProgress: (done, total) => {
        if (!featuresStarted) features.start(total, 0);
        featuresStarted = true;
        features.update(done);
        if (done === total) features.stop();
      },
      onEpoch: (epoch, epochs) => {
        if (!trainingStarted) training.start(epochs, 0);
        trainingStarted = true;
        training.update(epoch);
        if (epoch === epochs) training.stop();
      },
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const against = result.target === 'label' ? 'the label' : "the final exit's distribution";
    process.stdout.write(
      `DACT objective = CE(accumulated answer, ${against}) + τ·(1 + Σ p), τ = ${result.ponder}; ` +
        `${result.trainRows} training and ${result.validationRows} validation rows:\n\n`,
    );
    process.stdout.write(
      `${'rows'.padEnd(12)}${'task before'.padStart(12)}${'task after'.padStart(12)}${'ρ before'.padStart(10)}${'ρ after'.padStart(10)}${'total before'.padStart(14)}${'total after'.padStart(13)}\n`,
    );
    const line = (name: string, b?: HaltingObjective, a?: HaltingObjective) => {
      if (!b || !a) return;
      process.stdout.write(
        `${name.padEnd(12)}${b.task.toFixed(5).padStart(12)}${a.task.toFixed(5).padStart(12)}${b.ponder.toFixed(3).padStart(10)}${a.ponder.toFixed(3).padStart(10)}` +
          `${b.total.toFixed(5).padStart(14)}${a.total.toFixed(5).padStart(13)}\n`,
      );
    };
    line('training', result.trainBefore, result.trainAfter);
    line('validation', result.validationBefore, result.validationAfter);
    process.stdout.write(
      `\nwrote ${result.out}/halting.safetensors (units after layers ${result.unitLayers.map((l) => l + 1).join(', ')}) in ${result.seconds.toFixed(1)} s\n` +
        `next: edgerelay calibrate --model ${result.out} --data FILE   (sweeps dact with these units beside dact-entropy)\n`,
    );
  });
}

function parseNonNegative(value: string): number {
  const x = Number(value);
  if (!Number.isFinite(x) || x < 0) throw new InvalidArgumentError('expected a number ≥ 0, e.g. 0.01');
  return x;
}
