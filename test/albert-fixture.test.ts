import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { evaluate } from '../coordinator/calibration/index.js';

const ALBERT_DIR = path.resolve(process.cwd(), '../shared/fixtures/sst2-albert-6L-256H');
const DEV = path.join(ALBERT_DIR, 'dev.tsv');

/** The card's accuracy table rows for each K, as fractions: K → [(1-based slot of the exit, accuracy)]. */
function cardFigures(): Map<number, { layer: number; accuracy: number }[]> {
  const card = readFileSync(path.join(ALBERT_DIR, 'README.md'), 'utf8');
  const figures = new Map<number, { layer: number; accuracy: number }[]>();
  // "| 1 | `classifiers.0` | 80.73% | 96.79% |": K = 6, application t reads layer t
  const perExit = [
    ...card.matchAll(/^\| (\d) \| `classifiers?(?:\.\d)?` (?:\(final\) )?\| ([\d.]+)% \| ([\d.]+)% \|$/gm),
  ];
  figures.set(
    6,
    perExit.map((m) => ({ layer: Number(m[1]), accuracy: Number(m[2]) / 100 })),
  );
  // "| 3 (β = 2) | 1 | 2 | `classifiers.1` | 81.19% | 96.56% |": step t at ODE time t·β reads layer t·β
  for (const m of card.matchAll(/^\| (\d) \(β = \d\) \| \d \| (\d) \| `[^`]+` \| ([\d.]+)% \| [\d.]+% \|$/gm)) {
    const K = Number(m[1]);
    if (!figures.has(K)) figures.set(K, []);
    figures.get(K)!.push({ layer: Number(m[2]), accuracy: Number(m[3]) / 100 });
  }
  return figures;
}

describe('the ALBERT fixture (sst2-albert-6L-256H)', function () {
  const card = cardFigures();

  it('the card parses into the per-exit table and the K = 3 and K = 2 exit tables', function () {
    assert.equal(card.get(6)!.length, 6);
    assert.deepEqual(
      card.get(3)!.map((r) => r.layer),
      [2, 4, 6],
    );
    assert.deepEqual(
      card.get(2)!.map((r) => r.layer),
      [3, 6],
    );
  });

  for (const K of [6, 3, 2]) {
    it(`per-exit accuracy on dev.tsv at K = ${K} steps equals the model card within 0.5 point`, async () => {
      const result = await evaluate({ model: ALBERT_DIR, data: DEV, maxLength: 64, batchSize: 64, odeSteps: K });
      assert.equal(result.examples, 436);
      assert.equal(result.odeSteps, K);
      assert.equal(result.stepSize, 6 / K);
      const expected = card.get(K)!;
      assert.deepEqual(
        result.exits.map((e) => e.layer),
        expected.map((r) => r.layer),
      );
      result.exits.forEach((e, i) => {
        assert.ok(
          Math.abs(e.accuracy - expected[i]!.accuracy) <= 0.005,
          `K=${K} exit at layer ${e.layer}: ${e.accuracy} vs card ${expected[i]!.accuracy}`,
        );
        assert.equal(e.applications, i + 1);
      });
    });
  }
});
