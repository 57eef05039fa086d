import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  loadCheckpoint,
  writeRandomAlbertCheckpoint,
  type RandomAlbertOptions,
} from '../../coordinator/checkpoint/index.js';
import type { TinyModel } from './tiny-model.js';

/** A tiny random ALBERT with PABEE exits after every application; by default 4 slots, 2 groups of 2 inner layers. */
export async function makeTinyAlbert(options: Partial<RandomAlbertOptions> = {}): Promise<TinyModel> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-albert-'));
  await writeRandomAlbertCheckpoint(dir, {
    layers: 4,
    hidden: 32,
    heads: 4,
    intermediate: 64,
    embeddingSize: 16,
    groups: 2,
    innerGroups: 2,
    vocabSize: 120,
    maxPositions: 64,
    numLabels: 3,
    exits: true,
    seed: 11,
    ...options,
  });
  const checkpoint = await loadCheckpoint(dir);
  return { checkpoint, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
