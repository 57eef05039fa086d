import type { Command } from 'commander';
import { openReferenceModel, type ClassifyResult } from '../reference/index.js';
import { InferInputError, readInputTexts } from './infer-input.js';
import { parsePositiveInt } from './number-options.js';
import type { TextInput } from '../tokenizer/index.js';

/** `--pair A B [--pair C D …]` as sentence pairs; commander collects every text the option is given. */
export function pairsOf(texts: readonly string[] | undefined): TextInput[] {
  if (texts === undefined) return [];
  if (texts.length % 2 !== 0) {
    throw new InferInputError(
      `--pair takes two texts, the text and its pair (got ${texts.length}): --pair "A man is eating." "Someone eats."`,
    );
  }
  const pairs: TextInput[] = [];
  for (let i = 0; i < texts.length; i += 2) pairs.push({ text: texts[i]!, textPair: texts[i + 1]! });
  return pairs;
}

/** The JSON shape of `infer --json`; layers are counted from 1 for people. */
export function inferJson(results: ClassifyResult[], allExits: boolean) {
  return {
    results: results.map((r) => ({
      text: r.text,
      ...(r.textPair !== undefined && { text_pair: r.textPair }),
      label: r.label,
      score: r.score,
      ...(allExits
        ? { exits: r.exits.map((e) => ({ layer: e.layer + 1, logits: e.logits, probs: e.probs, label: e.label })) }
        : {}),
    })),
  };
}

export function registerInfer(program: Command): void {
  program
    .command('infer')
    .description('classify texts on this machine with the single-node reference runner')
    .requiredOption(
      '--model <dir>',
      'Hugging Face model directory (config.json, model.safetensors, vocab.txt or tokenizer.json)',
    )
    .option('--all-exits', 'show every exit head, not only the final classifier')
    .option('--json', 'print one JSON document')
    .option('--threads <n>', 'ONNX Runtime threads', parsePositiveInt)
    .option('--max-length <n>', 'tokens per text, [CLS] and [SEP] included', parsePositiveInt)
    .option(
      '--ode-steps <k>',
      'parameter-shared (ALBERT) models: apply the shared layer K times, step size L/K',
      parsePositiveInt,
    )
    .option('--input <file>', 'read texts from FILE, one per line (blank lines skipped); "-" reads standard input')
    .option(
      '--pair <texts...>',
      'classify a sentence pair (NLI, paraphrase, question/answer): --pair TEXT TEXT_PAIR; repeat for more pairs',
    )
    .argument('[text...]', 'texts to classify (more than a few: use --input)')
    .action(
      async (
        args: string[],
        opts: {
          model: string;
          allExits?: boolean;
          json?: boolean;
          threads?: number;
          maxLength?: number;
          odeSteps?: number;
          input?: string;
          pair?: string[];
        },
      ) => {
        const texts: TextInput[] = [
          ...args,
          ...(opts.input !== undefined ? await readInputTexts(opts.input) : []),
          ...pairsOf(opts.pair),
        ];
        if (texts.length === 0) {
          throw new InferInputError(
            opts.input !== undefined
              ? `no text in --input ${opts.input === '-' ? '(standard input)' : opts.input}: give one text per line`
              : 'no text to classify: give texts as arguments, or in a file with --input FILE (one per line; "-" for standard input)',
          );
        }
        const { runner } = await openReferenceModel(opts);
        const results = await runner.classify(texts);
        await runner.release();
        if (opts.json) {
          process.stdout.write(JSON.stringify(inferJson(results, !!opts.allExits)) + '\n');
          return;
        }
        for (const r of results) {
          const pairText = r.textPair === undefined ? '' : `\t${r.textPair}`;
          process.stdout.write(`${r.label}\t${r.score.toFixed(4)}\t${r.text}${pairText}\n`);
          if (!opts.allExits) continue;
          for (const e of r.exits) {
            const probs = e.probs.map((p) => p.toFixed(4)).join(' ');
            const logits = e.logits.map((v) => v.toFixed(4)).join(' ');
            process.stdout.write(`  exit at layer ${e.layer + 1}: ${e.label}  probs [${probs}]  logits [${logits}]\n`);
          }
        }
      },
    );
}
