import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  loadCheckpoint,
  writeRandomFamilyCheckpoint,
  type RandomFamilyOptions,
} from '../../coordinator/checkpoint/index.js';
import type { TinyModel } from './tiny-model.js';

export type TinyFamily = RandomFamilyOptions['arch'];

/** A tiny random RoBERTa / DistilBERT / ELECTRA classifier with exit heads after every layer but the last. */
export async function makeTinyFamily(arch: TinyFamily, options: Partial<RandomFamilyOptions> = {}): Promise<TinyModel> {
  const dir = mkdtempSync(path.join(tmpdir(), `edgerelay-${arch}-`));
  await writeRandomFamilyCheckpoint(dir, {
    arch,
    layers: 3,
    hidden: 32,
    heads: 4,
    intermediate: 64,
    vocabSize: 120,
    maxPositions: 64,
    numLabels: 3,
    exits: true,
    seed: 13,
    ...(arch === 'electra' && { embeddingSize: 16 }),
    ...options,
  });
  const checkpoint = await loadCheckpoint(dir);
  return { checkpoint, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A padded batch for a model whose pad id is `pad`: row b has `lengths[b]` tokens (first `first`, the rest drawn
 * from [5, vocab) so none is the pad id), then pads; `leftPad` puts the pads first.
 */
export function familyBatch(lengths: number[], vocab: number, pad: number, first: number, leftPad = false) {
  const seqLen = Math.max(...lengths);
  let state = 3;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  const ids = lengths.map((len) => {
    const real = Array.from({ length: len }, (_, i) => (i === 0 ? first : 5 + (next() % (vocab - 5))));
    const pads = Array.from({ length: seqLen - len }, () => pad);
    return leftPad ? [...pads, ...real] : [...real, ...pads];
  });
  const mask = ids.map((row, b) =>
    row.map((_, i) => ((leftPad ? i >= seqLen - lengths[b]! : i < lengths[b]!) ? 1 : 0)),
  );
  const types = ids.map((row) => row.map(() => 0));
  const flat = (rows: number[][]) => BigInt64Array.from(rows.flat().map((v) => BigInt(v)));
  return {
    ids,
    mask,
    types,
    dims: [lengths.length, seqLen],
    inputIds: flat(ids),
    attentionMask: flat(mask),
    tokenTypeIds: flat(types),
  };
}
