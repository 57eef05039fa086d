/** `edgerelay convert`: parse the options, convert with checkpoint/convert.ts, say what was written. */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { TORCH_DTYPES, WEIGHTS_FILE, convertCheckpoint, type ConvertDtype } from '../checkpoint/index.js';

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description(
      'copy a Hugging Face model directory with model.safetensors re-encoded as float16, bfloat16 or float32, or with its linear layers quantized to int8 (docs/int8.md)',
    )
    .requiredOption('--model <dir>', 'source model directory (config.json, model.safetensors, tokenizer files)')
    .requiredOption('--out <dir>', 'directory to write the converted copy into (not the source directory)')
    .addOption(
      new Option('--dtype <dtype>', 'dtype to store the weights in')
        .choices(['f16', 'bf16', 'f32', 'int8'])
        .makeOptionMandatory(),
    )
    .action(async (opts: { model: string; out: string; dtype: ConvertDtype }) => {
      const result = await convertCheckpoint(opts.model, opts.out, opts.dtype);
      for (const d of result.dropped) {
        process.stderr.write(
          `edgerelay: note: left out ${d.dtype} tensor "${d.name}" (only float tensors are converted; the loader does not need it)\n`,
        );
      }
      const mb = (p: string) => (statSync(p).size / 1e6).toFixed(1);
      process.stdout.write(
        `wrote ${result.tensors.length} tensors as ${TORCH_DTYPES[result.dtype]} (from ${result.sourceDtype}) to ${result.out}: ` +
          (result.dtype === 'I8'
            ? `${result.quantized} linear weights int8 with per-channel scales, the rest float32; `
            : '') +
          `${WEIGHTS_FILE} ${mb(join(result.out, WEIGHTS_FILE))} MB (source ${mb(join(resolve(opts.model), WEIGHTS_FILE))} MB); ` +
          `copied ${result.copied.join(', ')}\n`,
      );
    });
}
