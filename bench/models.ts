import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint, writeRandomCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';

const CACHE = path.resolve('.bench-cache');

/** A random bert-base-shaped checkpoint (12 × 768, 12 heads), written once and reused between runs. */
export async function bertBaseCheckpoint(): Promise<string> {
  const dir = path.join(CACHE, 'bert-base-random');
  if (!existsSync(path.join(dir, 'model.safetensors'))) {
    process.stderr.write(`writing a random bert-base checkpoint to ${dir} (once)\n`);
    await writeRandomCheckpoint(dir, { layers: 12, hidden: 768, heads: 12, exits: true, seed: 42 });
  }
  return dir;
}

/** The single-node reference's top label and score for each text: what the cluster must answer. */
export async function referenceAnswers(
  modelDir: string,
  texts: string[],
): Promise<Map<string, { label: string; score: number }>> {
  const runner = await ReferenceRunner.create(await loadCheckpoint(modelDir), loadTokenizer(modelDir), { threads: 1 });
  try {
    return new Map((await runner.classify(texts, 16)).map((r) => [r.text, { label: r.label, score: r.score }]));
  } finally {
    await runner.release();
  }
}
