import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TOKENIZER_FILES } from '../tokenizer/index.js';

/**
 * Copies the tokenizer files a derived checkpoint (converted, pruned) keeps unchanged; returns their names.
 * Read and written rather than copyFile, which would also copy a read-only mode from the source; a file the
 * source lacks is removed from the output, since a stale tokenizer.json there would win over the copied vocab.txt.
 */
export function copyTokenizerFiles(srcDir: string, outDir: string): string[] {
  const copied: string[] = [];
  for (const name of TOKENIZER_FILES) {
    const from = join(srcDir, name);
    const to = join(outDir, name);
    if (existsSync(from)) {
      writeFileSync(to, readFileSync(from));
      copied.push(name);
    } else {
      rmSync(to, { force: true });
    }
  }
  return copied;
}
