import assert from 'node:assert/strict';
import { calibrateOdeRuns, simulatePolicy, type ExitRuns } from '../coordinator/calibration/index.js';
import { odeExitLayers, odeSchedule } from '@edgerelay/proto';

const L = 6;
const N = 200;
const CONFIDENT = [0.99, 0.01];
const WRONG_CONFIDENT = [0.02, 0.98];

/**
 * Synthetic runs at K steps: every row's label and full-model answer is class 0; `finalWrong` rows of the K-step
 * final exit answer class 1; early exits are confidently wrong when `earlyWrong`, so no early exit may fire.
 */
function runsAt(K: number, finalWrong: number, earlyWrong: boolean): ExitRuns {
  const schedule = odeSchedule(L, K);
  const exitLayers = odeExitLayers([0, 1, 2, 3, 4, 5], schedule);
  return {
    numLayers: L,
    exitLayers,
    numLabels: 2,
    ...(K < L && { odeSteps: K, appliedAt: exitLayers.map((_, i) => i + 1) }),
    rows: Array.from({ length: N }, (_, i) => ({
      label: 0,
      reference: 0,
      probs: exitLayers.map((_, k) =>
        k === exitLayers.length - 1
          ? i < finalWrong
            ? WRONG_CONFIDENT
            : CONFIDENT
          : earlyWrong
            ? WRONG_CONFIDENT
            : [0.6, 0.4],
      ),
    })),
  };
}

describe('calibration over ODE steps', function () {
  it('counts layer applications, not slots: K = 2 with no early exit runs 2 of 6', function () {
    const o = simulatePolicy({ kind: 'none' }, runsAt(2, 0, true));
    assert.equal(o.meanLayers, 2);
    assert.equal(o.speedup, 3);
  });

  it('judges fewer steps against the full model: K = 3 losing 10% misses a 1-point budget, K = 2 losing nothing meets it', function () {
    const byK = new Map([
      [6, runsAt(6, 0, true)],
      [3, runsAt(3, 20, true)],
      [2, runsAt(2, 0, true)],
    ]);
    const record = calibrateOdeRuns(byK, { target: { kind: 'accuracy-drop', maxDrop: 0.01 }, holdout: 0.5, seed: 1 });
    const bySteps = new Map(record.odeSweep!.map((c) => [c.odeSteps, c]));
    assert.equal(bySteps.get(3)!.met, false);
    assert.ok(bySteps.get(3)!.tuning.accuracyDrop! > 0.05);
    assert.equal(bySteps.get(2)!.met, true);
    assert.equal(bySteps.get(6)!.tuning.meanLayers, 6);
    assert.equal(record.odeSteps, 2);
    assert.equal(record.tuning.meanLayers, 2);
  });

  it('with a speed target keeps the most accurate K that reaches it', function () {
    const byK = new Map([
      [6, runsAt(6, 0, true)],
      [3, runsAt(3, 2, true)],
      [2, runsAt(2, 30, true)],
    ]);
    const record = calibrateOdeRuns(byK, { target: { kind: 'speedup', minSpeedup: 2 }, holdout: 0, seed: 1 });
    assert.equal(record.odeSteps, 3);
  });
});
