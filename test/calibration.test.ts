import assert from 'node:assert/strict';
import { Resvg } from '@resvg/resvg-js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CalibrationTargetError,
  accuracyCost,
  meetsTarget,
  UnknownPolicyError,
  calibrateRuns,
  collectFromFile,
  parsePolicyList,
  parseTarget,
  calibrationSvg,
  plotCalibration,
  POLICY_COLORS,
  readCalibration,
  selectRows,
  simulatePolicy,
  splitRows,
  type CalibrationRecord,
  type ExitRuns,
} from '../coordinator/calibration/index.js';
import { evaluate } from '../coordinator/calibration/index.js';
import { parseExitPolicy } from '../device-agent/exits/policies.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { edgerelay } from './helpers/cli.js';

/** Three 2-class exits; rows built by hand so every figure can be counted on paper. */
const HAND: ExitRuns = {
  numLayers: 3,
  exitLayers: [0, 1, 2],
  numLabels: 2,
  rows: [
    {
      probs: [
        [0.95, 0.05],
        [0.9, 0.1],
        [0.8, 0.2],
      ],
      label: 0,
    }, // max-prob=0.9 exits at layer 1 (0-based 0), right
    {
      probs: [
        [0.6, 0.4],
        [0.1, 0.9],
        [0.2, 0.8],
      ],
      label: 1,
    }, // exits at 0-based 1, right
    {
      probs: [
        [0.92, 0.08],
        [0.3, 0.7],
        [0.2, 0.8],
      ],
      label: 1,
    }, // exits at 0 with class 0: wrong, final was right
    {
      probs: [
        [0.5, 0.5],
        [0.5, 0.5],
        [0.7, 0.3],
      ],
      label: 1,
    }, // final exit, wrong
  ],
};

describe('calibration', () => {
  let runs: ExitRuns;
  before(async () => {
    // Collected once for the whole file: every test simulates on these instead of re-running the model.
    runs = await collectFromFile({ model: FIXTURE_DIR, data: FIXTURE_DEV });
  });

  describe('simulatePolicy', () => {
    it('counts layers, accuracy, agreement, lost examples and exit rates as the policy would have run', () => {
      const o = simulatePolicy(parseExitPolicy('max-prob=0.9'), HAND);
      assert.equal(o.meanLayers, (1 + 2 + 1 + 3) / 4);
      assert.equal(o.speedup, 3 / o.meanLayers);
      assert.equal(o.accuracy, 2 / 4);
      assert.equal(o.agreement, 3 / 4);
      assert.equal(o.lost, 1 / 4);
      assert.equal(o.earlyExits, 3);
      assert.equal(o.disagreements, 1);
      assert.deepEqual(o.exitRates, [0.5, 0.25, 0.25]);
    });

    it('reproduces the final exit on the fixture with policy none: every layer run, full agreement', () => {
      const o = simulatePolicy({ kind: 'none' }, runs);
      assert.equal(o.examples, 436);
      assert.equal(o.meanLayers, 6);
      assert.equal(o.agreement, 1);
      assert.ok(Math.abs(o.accuracy! - 0.8234) < 0.0005, `final accuracy ${o.accuracy}`);
      assert.deepEqual(o.exitRates, [0, 0, 0, 0, 0, 1]);
    });

    it('gives the same figures as eval --policy, which runs the model again', async () => {
      const viaEval = await evaluate({ model: FIXTURE_DIR, data: FIXTURE_DEV, policy: 'entropy=0.5' });
      const simulated = simulatePolicy(parseExitPolicy('entropy=0.5'), runs);
      assert.equal(viaEval.policy!.name, 'entropy=0.5');
      assert.equal(viaEval.policy!.meanLayers, simulated.meanLayers);
      assert.equal(viaEval.policy!.accuracy, simulated.accuracy);
      assert.equal(viaEval.policy!.agreement, simulated.agreement);
      assert.ok(simulated.meanLayers < 6, 'the policy should exit early on the fixture');
    });
  });

  it('splits rows deterministically into disjoint tuning and held-apart parts that cover every row', () => {
    const a = splitRows(436, 0.5, 7);
    assert.deepEqual(splitRows(436, 0.5, 7), a);
    assert.equal(a.heldOut.length, 218);
    assert.deepEqual(
      [...a.tuning, ...a.heldOut].sort((x, y) => x - y),
      Array.from({ length: 436 }, (_, i) => i),
    );
    assert.notDeepEqual(splitRows(436, 0.5, 8).heldOut, a.heldOut);
    assert.equal(splitRows(10, 0, 0).heldOut.length, 0);
  });

  it('charges a setting the smoothed disagreement rate of its early exits, so a lucky zero still costs about one example', () => {
    const outcome = (earlyExits: number, disagreements: number) => ({
      examples: 200,
      meanLayers: 3,
      speedup: 2,
      agreement: 1 - disagreements / 200,
      earlyExits,
      disagreements,
      exitRates: [] as number[],
    });
    assert.equal(accuracyCost(outcome(0, 0)), 0); // never exits early: nothing can be lost
    assert.equal(accuracyCost(outcome(100, 0)), (1 / 102) * (100 / 200));
    assert.equal(accuracyCost(outcome(198, 3)), (4 / 200) * (198 / 200));
    const budget = parseTarget('accuracy-drop=0.005');
    assert.equal(meetsTarget(outcome(198, 0), budget), true); // 1/200 × 0.99 ≤ 0.005
    assert.equal(meetsTarget(outcome(198, 1), budget), false); // one observed disagreement is already twice the budget
    assert.equal(meetsTarget(outcome(0, 0), budget), true);
  });

  it('rejects malformed targets and unknown policy names with typed errors', () => {
    assert.deepEqual(parseTarget('accuracy-drop=0.01'), { kind: 'accuracy-drop', maxDrop: 0.01 });
    assert.deepEqual(parseTarget('speedup=2.5'), { kind: 'speedup', minSpeedup: 2.5 });
    for (const bad of ['accuracy=0.01', 'speedup=0.5', 'accuracy-drop=1.5', 'speedup=fast', ''])
      assert.throws(() => parseTarget(bad), CalibrationTargetError, bad);
    assert.deepEqual(parsePolicyList('dact,max-prob'), ['dact', 'max-prob']);
    assert.throws(() => parsePolicyList('max-prob,pabee'), UnknownPolicyError);
  });

  describe('on the SST-2 fixture, target accuracy-drop=0.005', () => {
    let record: CalibrationRecord;
    before(() => {
      record = calibrateRuns(runs, { target: parseTarget('accuracy-drop=0.005') });
    });

    it('meets the target on the held-apart rows it was not tuned on: ≥ 99% agreement, accuracy within 0.5 point, ≤ 40% of the layers', () => {
      const held = record.heldOut!;
      assert.equal(record.met, true);
      assert.equal(held.examples, 218);
      assert.ok(held.agreement >= 0.99, `held-out agreement ${held.agreement}`);
      assert.ok(held.accuracyDrop! <= 0.005, `held-out accuracy drop ${held.accuracyDrop}`);
      assert.ok(held.meanLayers <= 0.4 * 6, `held-out mean layers ${held.meanLayers}`);
    });

    it('measures the held-out figures on rows disjoint from the tuning rows', () => {
      const split = splitRows(436, 0.5, 0);
      const policy = parseExitPolicy(record.policy);
      const tuning = simulatePolicy(policy, selectRows(runs, split.tuning));
      const held = simulatePolicy(policy, selectRows(runs, split.heldOut));
      assert.equal(record.tuning.meanLayers, tuning.meanLayers);
      assert.equal(record.heldOut!.meanLayers, held.meanLayers);
      assert.equal(record.heldOut!.agreement, held.agreement);
    });

    it('picks the fastest setting that meets the target among every policy swept', () => {
      const meeting = record.table.filter((r) => r.meetsTarget);
      assert.ok(meeting.length > 0);
      const fastest = Math.min(...meeting.map((r) => r.meanLayers));
      assert.equal(record.tuning.meanLayers, fastest);
      assert.deepEqual(new Set(record.table.map((r) => r.kind)), new Set(['max-prob', 'entropy', 'patience', 'dact']));
      // A faster setting exists that fails the target: the target is what holds the choice back.
      assert.ok(record.table.some((r) => !r.meetsTarget && r.meanLayers < fastest));
    });

    it('records the per-layer exit rates of the chosen policy on all rows, summing to 1', () => {
      assert.equal(record.exitRates.length, 6);
      assert.ok(Math.abs(record.exitRates.reduce((a, b) => a + b, 0) - 1) < 1e-9);
      assert.deepEqual(record.exitRates, simulatePolicy(parseExitPolicy(record.policy), runs).exitRates);
    });
  });

  it('with a speed target, picks the most faithful setting that is at least that fast', () => {
    const record = calibrateRuns(runs, { target: parseTarget('speedup=2.5') });
    assert.equal(record.met, true);
    assert.ok(record.tuning.speedup >= 2.5);
    const fastEnough = record.table.filter((r) => r.speedup >= 2.5);
    assert.ok(fastEnough.every((r) => r.agreement <= record.tuning.agreement));
  });

  it('falls back to the fastest setting and says so when no setting reaches the speed target', () => {
    const record = calibrateRuns(runs, { target: parseTarget('speedup=7'), policies: ['patience'] });
    assert.equal(record.met, false);
    assert.equal(record.policy, 'patience=1');
  });

  it('calibrates unlabelled text on agreement with the final exit', () => {
    const unlabelled: ExitRuns = { ...runs, rows: runs.rows.map((r) => ({ probs: r.probs })) };
    const record = calibrateRuns(unlabelled, { target: parseTarget('accuracy-drop=0.01'), policies: ['max-prob'] });
    assert.equal(record.labelled, false);
    assert.equal(record.tuning.accuracy, undefined);
    assert.ok(record.tuning.agreement >= 0.99);
    assert.ok(record.tuning.meanLayers < 6);
  });

  it('draws the curves with a plotting library: an SVG with a line per policy and the final-exit rule, and its PNG', async () => {
    const record = calibrateRuns(runs, { target: parseTarget('accuracy-drop=0.005') });
    const svg = await calibrationSvg(record);
    assert.match(svg, /^<svg /);
    for (const kind of ['max-prob', 'entropy', 'patience', 'dact']) {
      assert.ok(svg.includes(`stroke="${POLICY_COLORS[kind]}"`), `no ${kind} line (${POLICY_COLORS[kind]})`);
      assert.ok(svg.includes(`>${kind === 'dact' ? 'dact entropy' : kind}</text>`), `no legend entry for ${kind}`);
    }
    assert.ok(svg.includes('stroke-dasharray="6,4"'), 'no dashed final-exit rule');
    assert.ok(svg.includes(`chosen ${record.policy}`), 'the title names the chosen policy');
    const png = await plotCalibration(record);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.subarray(12, 16).toString('ascii'), 'IHDR');
    assert.ok(png.readUInt32BE(16) > 700 && png.readUInt32BE(20) > 400, 'the chart is drawn at its stated size');
    // Every policy's colour is on the rendered canvas, not only in the markup.
    const pixels = new Resvg(svg).render().pixels;
    const colours = new Set<string>();
    for (let i = 0; i < pixels.length; i += 4) colours.add(`#${pixels.subarray(i, i + 3).toString('hex')}`);
    for (const kind of ['max-prob', 'entropy', 'patience', 'dact'])
      assert.ok(colours.has(POLICY_COLORS[kind]!), `colour ${POLICY_COLORS[kind]} missing from the pixels`);
  });

  describe('the CLI', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'edgerelay-calibrate-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('calibrate prints the table, writes the calibration and its plot, and eval --policy calibrated reads it back', async () => {
      const out = join(dir, 'calibration.json');
      const cal = await edgerelay([
        'calibrate',
        '--model',
        FIXTURE_DIR,
        '--data',
        FIXTURE_DEV,
        '--target',
        'accuracy-drop=0.005',
        '--out',
        out,
      ]);
      assert.equal(cal.code, 0, cal.stderr);
      assert.match(cal.stdout, /mean layers\s+speedup\s+accuracy\s+agreement/);
      assert.match(cal.stdout, /chosen: (max-prob|entropy|patience|dact)/);
      const stored = readCalibration(out);
      assert.equal(stored.target, 'accuracy-drop=0.005');
      assert.equal(readFileSync(join(dir, 'calibration.png')).subarray(1, 4).toString('ascii'), 'PNG');

      const ev = await edgerelay([
        'eval',
        '--model',
        FIXTURE_DIR,
        '--data',
        FIXTURE_DEV,
        '--policy',
        'calibrated',
        '--calibration',
        out,
        '--json',
      ]);
      assert.equal(ev.code, 0, ev.stderr);
      const doc = JSON.parse(ev.stdout) as {
        exits: unknown[];
        policy: { name: string; accuracy: number; agreement: number; meanLayers: number };
      };
      assert.equal(doc.exits.length, 6);
      assert.equal(doc.policy.name, stored.policy);
      assert.equal(doc.policy.meanLayers, simulatePolicy(stored.exitPolicy, runs).meanLayers);
    });

    it('eval --policy names the problem for a malformed policy or a missing calibration', async () => {
      const bad = await edgerelay(['eval', '--model', FIXTURE_DIR, '--data', FIXTURE_DEV, '--policy', 'max-prob=2']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /Invalid exit policy "max-prob=2"/);
      const missing = await edgerelay([
        'eval',
        '--model',
        FIXTURE_DIR,
        '--data',
        FIXTURE_DEV,
        '--policy',
        'calibrated',
        '--calibration',
        join(dir, 'none.json'),
      ]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /Run `edgerelay calibrate/);
    });
  });
});
