import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint, writeRandomCheckpoint } from '../../coordinator/checkpoint/index.js';
import type { Checkpoint, HiddenAct } from '../../coordinator/checkpoint/types.js';

export interface TinyModel {
  checkpoint: Checkpoint;
  dir: string;
  cleanup(): void;
}

/** A tiny random BERT with exit heads after every layer, written to a temp dir and loaded back. */
export async function makeTinyModel(
  options: {
    layers?: number;
    hidden?: number;
    heads?: number;
    intermediate?: number;
    seed?: number;
    hiddenAct?: HiddenAct;
  } = {},
): Promise<TinyModel> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-tiny-'));
  await writeRandomCheckpoint(dir, {
    layers: options.layers ?? 3,
    hidden: options.hidden ?? 32,
    heads: options.heads ?? 4,
    intermediate: options.intermediate ?? 64,
    vocabSize: 120,
    maxPositions: 64,
    numLabels: 3,
    exits: true,
    seed: options.seed ?? 7,
    hiddenAct: options.hiddenAct,
  });
  const checkpoint = await loadCheckpoint(dir);
  return { checkpoint, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A deterministic padded batch: row b has `lengths[b]` real tokens, the rest [PAD]. */
export function makeBatch(lengths: number[], vocabSize: number, seed = 1) {
  const seqLen = Math.max(...lengths);
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  const ids: number[][] = lengths.map((len) =>
    Array.from({ length: seqLen }, (_, i) =>
      i < len ? (i === 0 ? 101 % vocabSize : 5 + (next() % (vocabSize - 5))) : 0,
    ),
  );
  const mask = lengths.map((len) => Array.from({ length: seqLen }, (_, i) => (i < len ? 1 : 0)));
  const types = lengths.map(() => Array.from({ length: seqLen }, () => 0));
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

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
