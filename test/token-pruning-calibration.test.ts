import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { calibratePruning, pruningCost, simulatePruning, type ExitRuns } from '../coordinator/calibration/index.js';
import { encoderFlops, layerFlops } from '../coordinator/pruning/index.js';
import { edgerelay } from './helpers/cli.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';

const SHAPE = { numLayers: 3, hiddenSize: 8, intermediateSize: 32 };

/** Rows with a label, per-exit probabilities and tokens per layer (3 layers, exits after each). */
function runs(rows: { probs: number[][]; label: number; tokens: number[] }[]): ExitRuns {
  return { numLayers: 3, exitLayers: [0, 1, 2], numLabels: 2, rows };
}

describe('token pruning judged on collected runs', () => {
  const reference = runs([
    {
      probs: [
        [0.6, 0.4],
        [0.7, 0.3],
        [0.9, 0.1],
      ],
      label: 0,
      tokens: [10, 10, 10],
    },
    {
      probs: [
        [0.4, 0.6],
        [0.3, 0.7],
        [0.2, 0.8],
      ],
      label: 1,
      tokens: [6, 6, 6],
    },
  ]);
  const pruned = runs([
    {
      probs: [
        [0.6, 0.4],
        [0.95, 0.05],
        [0.4, 0.6],
      ],
      label: 0,
      tokens: [10, 7, 5],
    },
    {
      probs: [
        [0.4, 0.6],
        [0.3, 0.7],
        [0.1, 0.9],
      ],
      label: 1,
      tokens: [6, 5, 3],
    },
  ]);

  it('counts accuracy, agreement with the unpruned answer, FLOPs and tokens kept, alone and with an exit policy', () => {
    const alone = simulatePruning(SHAPE, pruned, reference);
    assert.equal(alone.accuracy, 0.5);
    assert.equal(alone.agreement, 0.5);
    const flops = encoderFlops(SHAPE, 10, [1, 0.7, 0.5]) + encoderFlops(SHAPE, 6, [1, 5 / 6, 0.5]);
    assert.ok(Math.abs(alone.flopsRatio - flops / (3 * layerFlops(SHAPE, 10) + 3 * layerFlops(SHAPE, 6))) < 1e-12);
    assert.equal(alone.meanTokensKept, (10 + 7 + 5 + 6 + 5 + 3) / 6);
    assert.equal(alone.meanTokens, 8);
    // max-prob=0.9 answers the first row after layer 1 (0.95) and the second at the final exit.
    const withExit = simulatePruning(SHAPE, pruned, reference, { kind: 'max-prob', threshold: 0.9 });
    assert.equal(withExit.agreement, 1);
    assert.equal(withExit.earlyExits, 1);
    const ran =
      layerFlops(SHAPE, 10) + layerFlops(SHAPE, 7) + layerFlops(SHAPE, 6) + layerFlops(SHAPE, 5) + layerFlops(SHAPE, 3);
    assert.ok(Math.abs(withExit.flopsRatio - ran / (3 * layerFlops(SHAPE, 10) + 3 * layerFlops(SHAPE, 6))) < 1e-12);
  });

  it('picks the cheapest schedule within the accuracy budget, and none when nothing fits', () => {
    const input = {
      shape: SHAPE,
      reference,
      pruned: [
        { schedule: 'keep=1,1,1', runs: reference },
        { schedule: 'keep=1,0.7,0.5', runs: pruned },
      ],
      policies: [] as const,
      holdout: 0,
      seed: 0,
    };
    const loose = calibratePruning({ ...input, target: { kind: 'accuracy-drop', maxDrop: 0.6 } });
    assert.equal(loose.alone.schedule, 'keep=1,0.7,0.5');
    assert.ok(loose.alone.met);
    assert.equal(pruningCost(loose.alone.tuning), 2 / 4);
    const tight = calibratePruning({ ...input, target: { kind: 'accuracy-drop', maxDrop: 0.1 } });
    assert.equal(tight.alone.schedule, 'keep=1,1,1');
    const joint = calibratePruning({
      ...input,
      policies: ['max-prob'],
      target: { kind: 'accuracy-drop', maxDrop: 0.4 },
    });
    assert.notEqual(joint.joint.policy, 'none');
    assert.ok(joint.joint.tuning.flopsRatio < 1);
  });
});

describe('eval --token-pruning and calibrate --token-pruning on the fixture (8 rows)', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-prune-'));
    const lines = readFileSync(FIXTURE_DEV, 'utf8').split('\n');
    writeFileSync(path.join(dir, 'dev8.tsv'), lines.slice(0, 9).join('\n') + '\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('eval --json reports tokenPruning with spec, accuracy, agreement, flopsRatio and meanTokensKept', async () => {
    const r = await edgerelay([
      'eval',
      '--model',
      FIXTURE_DIR,
      '--data',
      path.join(dir, 'dev8.tsv'),
      '--token-pruning',
      'keep=1,1,0.7,0.5,0.4,0.3',
      '--policy',
      'max-prob=0.9',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout).tokenPruning;
    assert.equal(t.spec, 'keep=1,1,0.7,0.5,0.4,0.3');
    for (const k of ['accuracy', 'agreement', 'flopsRatio', 'meanTokensKept']) assert.equal(typeof t[k], 'number', k);
    assert.ok(t.flopsRatio > 0 && t.flopsRatio < 1);
    assert.ok(t.meanTokensKept < t.meanTokens);
    const bad = await edgerelay([
      'eval',
      '--model',
      FIXTURE_DIR,
      '--data',
      path.join(dir, 'dev8.tsv'),
      '--token-pruning',
      'keep=1,0.5',
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /lists 2 ratios but the model has 6 layers/);
  });

  it('calibrate --token-pruning --policy none stores a schedule that eval --token-pruning calibrated reads back', async () => {
    const out = path.join(dir, 'cal.json');
    const r = await edgerelay([
      'calibrate',
      '--model',
      FIXTURE_DIR,
      '--data',
      path.join(dir, 'dev8.tsv'),
      '--token-pruning',
      '--policy',
      'none',
      '--target',
      'speedup=1.5',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const record = JSON.parse(readFileSync(out, 'utf8'));
    assert.match(record.tokenPruning, /^keep=1,/);
    assert.equal(record.policy, 'none');
    assert.ok(record.pruning.table.length > 10);
    const e = await edgerelay([
      'eval',
      '--model',
      FIXTURE_DIR,
      '--data',
      path.join(dir, 'dev8.tsv'),
      '--token-pruning',
      'calibrated',
      '--calibration',
      out,
      '--json',
    ]);
    assert.equal(e.code, 0, e.stderr);
    assert.equal(JSON.parse(e.stdout).tokenPruning.spec, record.tokenPruning);
  });
});
