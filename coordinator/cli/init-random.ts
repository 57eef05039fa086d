import type { Command } from 'commander';
import {
  writeRandomAlbertCheckpoint,
  writeRandomCheckpoint,
  writeRandomFamilyCheckpoint,
} from '../checkpoint/index.js';
import { InvalidArgumentError } from 'commander';
import { parsePositiveInt } from './number-options.js';

export function registerInitRandom(program: Command): void {
  program
    .command('init-random')
    .description(
      'write a random BERT, RoBERTa, DistilBERT, ELECTRA or ALBERT checkpoint in Hugging Face layout (for tests and benchmarks)',
    )
    .option(
      '--arch <name>',
      `${ARCHS.join(', ')} (albert: parameter-shared layer groups, factorised embeddings)`,
      parseArch,
      'bert',
    )
    .option(
      '--embedding-size <n>',
      'albert: embedding size E (default 16); electra: embedding_size (default hidden / 2)',
      parsePositiveInt,
    )
    .option('--groups <n>', 'albert: num_hidden_groups, must divide --layers (default 1)', parsePositiveInt)
    .option('--inner-groups <n>', 'albert: inner_group_num, layers per group application (default 1)', parsePositiveInt)
    .requiredOption('--out <dir>', 'directory to write config.json, model.safetensors, vocab.txt into')
    .requiredOption('--layers <n>', 'encoder layers', parsePositiveInt)
    .requiredOption('--hidden <n>', 'hidden size', parsePositiveInt)
    .requiredOption('--heads <n>', 'attention heads (must divide the hidden size)', parsePositiveInt)
    .option('--intermediate <n>', 'FFN width (default 4 × hidden)', parsePositiveInt)
    .option('--vocab-size <n>', 'vocabulary size', parsePositiveInt)
    .option('--labels <n>', 'classifier outputs', parsePositiveInt)
    .option(
      '--exits',
      'add exit heads after every layer (DeeBERT highways, <family>.encoder.highway.{i}; PABEE classifiers.{i} for albert)',
    )
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
        arch: Arch;
        embeddingSize?: number;
        groups?: number;
        innerGroups?: number;
      }) => {
        const arch = opts.arch;
        const write =
          arch === 'albert'
            ? writeRandomAlbertCheckpoint
            : arch === 'bert'
              ? writeRandomCheckpoint
              : (dir: string, o: Parameters<typeof writeRandomCheckpoint>[1]) =>
                  writeRandomFamilyCheckpoint(dir, { ...o, arch, embeddingSize: opts.embeddingSize });
        await write(opts.out, {
          embeddingSize: opts.embeddingSize,
          groups: opts.groups,
          innerGroups: opts.innerGroups,
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
        process.stdout.write(
          `wrote a random ${opts.arch} ${opts.layers}-layer, ${opts.hidden}-hidden checkpoint to ${opts.out}\n`,
        );
      },
    );
}

const ARCHS = ['bert', 'roberta', 'distilbert', 'electra', 'albert'] as const;
type Arch = (typeof ARCHS)[number];

function parseArch(value: string): Arch {
  if (!(ARCHS as readonly string[]).includes(value)) throw new InvalidArgumentError(`use one of ${ARCHS.join(', ')}`);
  return value as Arch;
}
