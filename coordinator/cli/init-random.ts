import type { Command } from 'commander';
import { writeRandomCheckpoint } from '../checkpoint/index.js';
import { parsePositiveInt } from './number-options.js';

export function registerInitRandom(program: Command): void {
  program
    .command('init-random')
    .description('write a random BERT checkpoint in Hugging Face layout (for tests and benchmarks)')
    .requiredOption('--out <dir>', 'directory to write config.json, model.safetensors, vocab.txt into')
    .requiredOption('--layers <n>', 'encoder layers', parsePositiveInt)
    .requiredOption('--hidden <n>', 'hidden size', parsePositiveInt)
    .requiredOption('--heads <n>', 'attention heads (must divide the hidden size)', parsePositiveInt)
    .option('--intermediate <n>', 'FFN width (default 4 × hidden)', parsePositiveInt)
    .option('--vocab-size <n>', 'vocabulary size', parsePositiveInt)
    .option('--labels <n>', 'classifier outputs', parsePositiveInt)
    .option('--exits', 'add DeeBERT-style exit heads after every layer')
    .option('--seed <n>', 'random seed', parsePositiveInt)
    .option('--f16', 'store weights as float16')
    .action(
      async (opts: {
        out: string;
        layers: number;
        hidden: number;
        heads: number;
        intermediate?: number;
        vocabSize?: number;
        labels?: number;
        exits?: boolean;
        seed?: number;
        f16?: boolean;
      }) => {
        await writeRandomCheckpoint(opts.out, {
          layers: opts.layers,
          hidden: opts.hidden,
          heads: opts.heads,
          intermediate: opts.intermediate,
          vocabSize: opts.vocabSize,
          numLabels: opts.labels,
          exits: !!opts.exits,
          seed: opts.seed,
          dtype: opts.f16 ? 'F16' : 'F32',
        });
        process.stdout.write(`wrote a random ${opts.layers}-layer, ${opts.hidden}-hidden checkpoint to ${opts.out}\n`);
      },
    );
}
