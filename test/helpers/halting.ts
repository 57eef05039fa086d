import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HALTING_FILE, writeHaltingUnits, type HaltingUnit } from '../../coordinator/checkpoint/index.js';
import { FIXTURE_DIR } from './fixture.js';

export const FIXTURE_HIDDEN = 256;
export const FIXTURE_UNIT_LAYERS = [0, 1, 2, 3, 4];

/** A copy of the SST-2 fixture (never the fixture itself) with these halting units beside it. */
export function fixtureWithUnits(dir: string, units: HaltingUnit[]): string {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(FIXTURE_DIR)) {
    if (statSync(join(FIXTURE_DIR, name)).isFile()) copyFileSync(join(FIXTURE_DIR, name), join(dir, name));
  }
  writeHaltingUnits(join(dir, HALTING_FILE), units, FIXTURE_HIDDEN);
  return dir;
}

/** Every unit with zero weights and the same bias (±Infinity pins h to 1 or 0). */
export function constantUnits(bias: number): HaltingUnit[] {
  return FIXTURE_UNIT_LAYERS.map((layer) => ({ layer, weight: new Float32Array(FIXTURE_HIDDEN), bias }));
}

/** Deterministic small random units: h varies from text to text, so halting happens at many layers. */
export function randomUnits(seed: number, scale = 0.3, bias = 0): HaltingUnit[] {
  let s = seed >>> 0 || 1;
  const r = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296 - 0.5;
  return FIXTURE_UNIT_LAYERS.map((layer) => ({
    layer,
    weight: Float32Array.from({ length: FIXTURE_HIDDEN }, () => scale * r()),
    bias,
  }));
}
