import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HALTING_FILE,
  HaltingUnitsError,
  loadCheckpoint,
  readSafetensors,
  writeHaltingUnits,
} from '../coordinator/checkpoint/index.js';
import {
  calibrateRuns,
  collectFromFile,
  parseTarget,
  simulatePolicy,
  type ExitRuns,
} from '../coordinator/calibration/index.js';
import { evaluate } from '../coordinator/calibration/index.js';
import {
  dactForwardRow,
  fitHalting,
  haltingGradient,
  haltingObjective,
  type HaltingData,
  type HaltingParams,
} from '../coordinator/distill/index.js';
import { decideExit, initialExitState, parseExitPolicy, type ExitState } from '../device-agent/exits/policies.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { FIXTURE_UNIT_LAYERS, constantUnits, fixtureWithUnits, randomUnits } from './helpers/halting.js';
import { edgerelay } from './helpers/cli.js';

/** Seeded uniform numbers in [0, 1). */
function uniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

function randomDistribution(r: () => number, classes: number): number[] {
  const raw = Array.from({ length: classes }, () => Math.exp(4 * r()));
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((v) => v / total);
}

/**
 * The published recurrence, written out independently in float64: p₀ = 1, a₁ = y₁,
 * aₙ = yₙ·pₙ₋₁ + aₙ₋₁·(1 − pₙ₋₁), pₙ = pₙ₋₁·hₙ. Returns every aₙ and pₙ (1-based in the paper, 0-based here).
 */
function publishedDact(ys: number[][], hs: number[]): { a: number[][]; p: number[] } {
  const a: number[][] = [];
  const p: number[] = [];
  let prevP = 1;
  let prevA: number[] = ys[0]!.map(() => 0);
  for (let n = 0; n < ys.length; n++) {
    const cur = ys[n]!.map((y, c) => y * prevP + prevA[c]! * (1 - prevP));
    const pn = prevP * (n < hs.length ? hs[n]! : 1);
    a.push(cur);
    p.push(pn);
    prevA = cur;
    prevP = pn;
  }
  return { a, p };
}

describe('DACT with trained halting units', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgerelay-halting-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('the policy', () => {
    it('accumulates exactly the float64 recurrence of the paper, whatever the halting values', () => {
      const r = uniform(11);
      for (let trial = 0; trial < 200; trial++) {
        const classes = 2 + (trial % 3);
        const ys = Array.from({ length: 6 }, () => randomDistribution(r, classes));
        const hs = Array.from({ length: 5 }, () => r());
        const reference = publishedDact(ys, hs);
        const policy = parseExitPolicy('dact=1e-9');
        let state: ExitState = initialExitState(policy);
        const exitLayers = [0, 1, 2, 3, 4, 5];
        for (let k = 0; k < 6; k++) {
          const d = decideExit(policy, state, ys[k]!, { layer: k, exitLayers, ...(k < 5 && { halting: hs[k]! }) });
          for (let c = 0; c < classes; c++)
            assert.ok(Math.abs(d.probs[c]! - reference.a[k]![c]!) < 1e-12, `trial ${trial} head ${k}`);
          if (k < 5) assert.ok(Math.abs((d.state.p as number) - reference.p[k]!) < 1e-15);
          assert.equal(d.halting, 'trained');
          state = JSON.parse(JSON.stringify(d.state)) as ExitState;
        }
      }
    });

    it("halts no later than DACT's published test a_top·(1−p)^d ≥ a_runner-up + p·d (slack 0)", () => {
      const r = uniform(5);
      let publishedHalts = 0;
      for (let trial = 0; trial < 2000; trial++) {
        const ys = Array.from({ length: 6 }, () => randomDistribution(r, 3));
        const hs = Array.from({ length: 5 }, () => r() ** 3);
        const { a, p } = publishedDact(ys, hs);
        let state = initialExitState(parseExitPolicy('dact'));
        for (let k = 0; k < 5; k++) {
          const d = decideExit(parseExitPolicy('dact'), state, ys[k]!, {
            layer: k,
            exitLayers: [0, 1, 2, 3, 4, 5],
            halting: hs[k]!,
          });
          state = d.state;
          const sorted = [...a[k]!].sort((x, y) => y - x);
          const remaining = 5 - k;
          if (sorted[0]! * (1 - p[k]!) ** remaining >= sorted[1]! + p[k]! * remaining) {
            publishedHalts++;
            assert.ok(d.exit, `trial ${trial}: the published test halts at head ${k}, ours did not`);
            break;
          }
          if (d.exit) break;
        }
      }
      assert.ok(publishedHalts > 100, `only ${publishedHalts} sequences exercised the published test`);
    });

    it('rejects a halting value outside [0, 1] with a typed error', () => {
      assert.throws(
        () =>
          decideExit(parseExitPolicy('dact'), initialExitState(parseExitPolicy('dact')), [0.5, 0.5], {
            layer: 0,
            exitLayers: [0, 1],
            halting: Number.NaN,
          }),
        /outside \[0, 1\]/,
      );
    });
  });

  describe('pinned units on the SST-2 fixture', () => {
    let never: ExitRuns;
    let atOnce: ExitRuns;
    before(async () => {
      const data = join(dir, 'dev-40.tsv');
      writeFileSync(data, readFileSync(FIXTURE_DEV, 'utf8').split('\n').slice(0, 41).join('\n') + '\n');
      never = await collectFromFile({ model: fixtureWithUnits(join(dir, 'never'), constantUnits(Infinity)), data });
      atOnce = await collectFromFile({ model: fixtureWithUnits(join(dir, 'at-once'), constantUnits(-Infinity)), data });
    });

    it('zero weights and a bias of +∞ give h = 1 at every exit: dact never halts early, at any slack below 1', () => {
      assert.ok(never.rows.every((row) => row.halting!.length === 5 && row.halting!.every((h) => h === 1)));
      for (const spec of ['dact', 'dact=0.5', 'dact=0.99']) {
        assert.equal(simulatePolicy(parseExitPolicy(spec), never).exitRates[5], 1, spec);
      }
    });

    it('zero weights and a bias of −∞ give h = 0: dact halts at the first exit, answering with it', () => {
      assert.ok(atOnce.rows.every((row) => row.halting!.every((h) => h === 0)));
      const outcome = simulatePolicy(parseExitPolicy('dact'), atOnce);
      assert.equal(outcome.exitRates[0], 1);
    });

    it('dact-entropy ignores the units and decides as dact does on the checkpoint without them', async () => {
      const plain: ExitRuns = {
        ...never,
        rows: never.rows.map(({ probs, label }) => ({ probs, ...(label !== undefined && { label }) })),
      };
      for (const slack of [0, 0.5, 0.9]) {
        assert.deepEqual(
          simulatePolicy({ kind: 'dact', slack, standIn: true }, never),
          simulatePolicy({ kind: 'dact', slack }, plain),
        );
      }
    });

    it('calibration sweeps the trained units and the stand-in side by side and records which signal dact used', () => {
      const record = calibrateRuns(atOnce, { target: parseTarget('accuracy-drop=0.005'), holdout: 0 });
      assert.equal(record.halting, 'trained');
      assert.ok(record.table.some((r) => r.kind === 'dact') && record.table.some((r) => r.kind === 'dact-entropy'));
      assert.equal(
        calibrateRuns(
          { ...atOnce, rows: atOnce.rows.map(({ probs }) => ({ probs })) },
          { target: parseTarget('accuracy-drop=0.005'), holdout: 0 },
        ).halting,
        'entropy',
      );
    });

    it("eval --json's policy object names the halting signal", async () => {
      const data = join(dir, 'dev-40.tsv');
      const trained = await evaluate({ model: join(dir, 'at-once'), data, policy: 'dact' });
      assert.equal(trained.policy!.halting, 'trained');
      assert.equal(trained.policy!.meanLayers, 1);
      assert.equal(
        (await evaluate({ model: join(dir, 'at-once'), data, policy: 'dact-entropy=0.5' })).policy!.halting,
        'entropy',
      );
      assert.equal((await evaluate({ model: FIXTURE_DIR, data, policy: 'dact' })).policy!.halting, 'entropy');
      assert.equal((await evaluate({ model: FIXTURE_DIR, data, policy: 'max-prob=0.9' })).policy!.halting, undefined);
    });
  });

  describe('the objective', () => {
    /** A tiny problem: 3 units over 4 exits, 2 classes, 4-dimensional pooled vectors. */
    function tiny(): { params: HaltingParams; data: HaltingData } {
      const r = uniform(3);
      const rows = 5;
      const H = 4;
      const C = 3;
      const probs = Array.from({ length: 4 }, () =>
        Float64Array.from(Array.from({ length: rows }, () => randomDistribution(r, C)).flat()),
      );
      const data: HaltingData = {
        rows,
        classes: C,
        hidden: H,
        pooled: Array.from({ length: 3 }, () => Float64Array.from({ length: rows * H }, () => 2 * r() - 1)),
        probs,
        target: Float64Array.from(Array.from({ length: rows }, () => randomDistribution(r, C)).flat()),
      };
      const params: HaltingParams = {
        hidden: H,
        units: 3,
        weight: Float32Array.from({ length: 3 * H }, () => 2 * r() - 1),
        bias: Float32Array.from({ length: 3 }, () => r() - 0.5),
      };
      return { params, data };
    }

    it('the accumulated answer of the training code equals the float64 recurrence of the paper', () => {
      const { params, data } = tiny();
      for (let row = 0; row < data.rows; row++) {
        const f = dactForwardRow(params, data, row);
        const ys = data.probs.map((p) => Array.from(p.subarray(row * 3, row * 3 + 3)));
        const hs = Array.from({ length: 3 }, (_, k) => {
          let z = params.bias[k]!;
          for (let i = 0; i < 4; i++) z += params.weight[k * 4 + i]! * data.pooled[k]![row * 4 + i]!;
          return 1 / (1 + Math.exp(-z));
        });
        const ref = publishedDact(ys, hs);
        for (let k = 0; k < 4; k++)
          for (let c = 0; c < 3; c++) assert.ok(Math.abs(f.acc[k]![c]! - ref.a[k]![c]!) < 1e-12);
      }
    });

    it('computes the exact gradient of task loss + τ·ponder cost (central differences)', () => {
      const { params, data } = tiny();
      const tau = 0.05;
      const g = haltingGradient(params, data, tau, [0, 1, 2, 3, 4]);
      for (const key of ['weight', 'bias'] as const) {
        for (let i = 0; i < params[key].length; i++) {
          const keep = params[key][i]!;
          const h = 1e-3;
          params[key][i] = keep + h;
          const up = haltingObjective(params, data, tau).total;
          params[key][i] = keep - h;
          const down = haltingObjective(params, data, tau).total;
          params[key][i] = keep;
          const numeric = (up - down) / (2 * h);
          assert.ok(
            Math.abs(numeric - g[key][i]!) < 1e-5 + 1e-3 * Math.abs(numeric),
            `${key}[${i}]: numeric ${numeric}, analytic ${g[key][i]}`,
          );
        }
      }
    });
  });

  describe('fit-halting on the fixture', () => {
    it('lowers its objective and writes units beside a copy of the model that the loader reads back', async () => {
      const data = join(dir, 'unlabeled-300.txt');
      writeFileSync(
        data,
        readFileSync(join(FIXTURE_DIR, 'unlabeled.txt'), 'utf8').split('\n').slice(0, 300).join('\n'),
      );
      const out = join(dir, 'fitted');
      const result = await fitHalting({ model: FIXTURE_DIR, data, out, epochs: 10 });
      assert.equal(result.target, 'final-exit');
      assert.ok(
        result.trainAfter.total < result.trainBefore.total,
        `train ${result.trainBefore.total} → ${result.trainAfter.total}`,
      );
      assert.ok(
        result.validationAfter!.total < result.validationBefore!.total,
        `validation ${result.validationBefore!.total} → ${result.validationAfter!.total}`,
      );
      assert.deepEqual(result.unitLayers, FIXTURE_UNIT_LAYERS);
      const ckpt = await loadCheckpoint(out);
      const file = readSafetensors(join(out, HALTING_FILE));
      for (const layer of FIXTURE_UNIT_LAYERS) {
        assert.deepEqual(ckpt.weights.halting![layer]!.weight.data, file.float32(`halting.${layer}.weight`));
        assert.deepEqual(ckpt.weights.halting![layer]!.weight.shape, [1, 256]);
      }
      assert.equal(ckpt.weights.halting![5], undefined);
      assert.equal(
        (await loadCheckpoint(FIXTURE_DIR)).weights.halting,
        undefined,
        'the fixture itself stays without units',
      );
    });

    it('refuses a halting file that lacks a unit for an exit, naming the tensor and what to do', async () => {
      const broken = fixtureWithUnits(join(dir, 'broken'), randomUnits(1));
      writeHaltingUnits(join(broken, HALTING_FILE), randomUnits(1).slice(0, 4), 256);
      await assert.rejects(
        loadCheckpoint(broken),
        (err: unknown) =>
          err instanceof HaltingUnitsError &&
          err.code === 'E_HALTING_UNITS' &&
          /halting\.4\.weight/.test(err.message) &&
          /fit-halting/.test(err.message),
      );
    });

    it('the CLI prints the objective before and after and where it wrote the units', async () => {
      const data = join(dir, 'dev-60.tsv');
      writeFileSync(data, readFileSync(FIXTURE_DEV, 'utf8').split('\n').slice(0, 61).join('\n') + '\n');
      const out = join(dir, 'cli');
      const res = await edgerelay([
        'fit-halting',
        '--model',
        FIXTURE_DIR,
        '--data',
        data,
        '--out',
        out,
        '--ponder',
        '0.02',
        '--epochs',
        '3',
      ]);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /CE\(accumulated answer, the label\) \+ τ·\(1 \+ Σ p\), τ = 0\.02/);
      assert.match(res.stdout, /^training\s+\d\.\d{5}\s+\d\.\d{5}\s+\d\.\d{3}\s+\d\.\d{3}/m);
      assert.match(res.stdout, /halting\.safetensors \(units after layers 1, 2, 3, 4, 5\)/);
      assert.ok((await loadCheckpoint(out)).weights.halting);
    });
  });
});
