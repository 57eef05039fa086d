import type { Command } from 'commander';
import { parseFraction, parsePositiveInt, parsePositiveNumber, parseSeed } from './number-options.js';

/** The flags `fit-exits` and `fit-halting` share: both train small parameters with Adam on a frozen backbone. */
export interface TrainingCliOptions {
  model: string;
  data: string;
  out?: string;
  epochs: number;
  lr: number;
  batchSize: number;
  validation: number;
  seed: number;
  threads?: number;
  maxLength?: number;
  json?: boolean;
}

/** Adds the training flags, with the defaults and wording each command gives them. */
export function addTrainingOptions(
  command: Command,
  defaults: { epochs: number; epochsHelp: string; lr: number; validationHelp: string },
): Command {
  return command
    .option('--epochs <n>', defaults.epochsHelp, parsePositiveInt, defaults.epochs)
    .option('--lr <rate>', 'Adam learning rate', parsePositiveNumber, defaults.lr)
    .option('--batch-size <n>', 'examples per Adam step (also texts per encoder batch)', parsePositiveInt, 32)
    .option('--validation <fraction>', defaults.validationHelp, parseFraction, 0.1)
    .option('--seed <n>', 'shuffling seed', parseSeed, 0)
    .option('--threads <n>', 'ONNX Runtime threads', parsePositiveInt)
    .option('--max-length <n>', 'tokens per text, [CLS] and [SEP] included', parsePositiveInt)
    .option('--json', 'print the result as JSON');
}
