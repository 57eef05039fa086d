import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadCheckpoint, readSafetensors } from '../coordinator/checkpoint/index.js';
import { calibrateRuns, collectFromFile, parseTarget } from '../coordinator/calibration/index.js';
import {
  FitExitsError,
  fitExits,
  klGradient,
  klLoss,
  softmaxRows,
  forwardHead,
  writeModelWithoutExits,
  type FitExitsResult,
  type HeadParams,
} from '../coordinator/distill/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';

const UNLABELED = join(FIXTURE_DIR, 'unlabeled.txt');
const run = promisify(execFile);

describe('fit-exits (self-distilled exit heads)', () => {
  let dir: string;
  let stripped: string;
  let fitted: string;
  let result: FitExitsResult;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgerelay-fit-exits-'));
    // The fixture with its own exit heads removed: only the backbone and the final classifier remain.
    stripped = join(dir, 'no-exits');
    writeModelWithoutExits(await loadCheckpoint(FIXTURE_DIR), stripped);
    fitted = join(dir, 'fitted');
    result = await fitExits({ model: stripped, data: UNLABELED, out: fitted });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('starts from a copy the loader sees as having no exit heads', async () => {
    const ckpt = await loadCheckpoint(stripped);
    assert.deepEqual(ckpt.exitLayers, [5]);
    assert.equal(ckpt.exitLayout, 'none');
  });

  it('lowers the distillation loss of every head, on the training text and on text it did not train on', () => {
    assert.deepEqual(
      result.layers.map((l) => l.layer),
      [0, 1, 2, 3, 4],
    );
    assert.equal(result.trainRows + result.validationRows, 2000);
    for (const l of result.layers) {
      assert.ok(l.trainAfter < 0.5 * l.trainBefore, `layer ${l.layer}: train ${l.trainBefore} → ${l.trainAfter}`);
      assert.ok(
        l.validationAfter! < 0.5 * l.validationBefore!,
        `layer ${l.layer}: validation ${l.validationBefore} → ${l.validationAfter}`,
      );
    }
  });

  it('writes a model directory the loader reads back: DeeBERT heads after every layer, the backbone untouched', async () => {
    const ckpt = await loadCheckpoint(fitted);
    assert.deepEqual(ckpt.exitLayers, [0, 1, 2, 3, 4, 5]);
    assert.equal(ckpt.exitLayout, 'deebert');
    assert.deepEqual(ckpt.unusedTensors, []);
    const config = JSON.parse(readFileSync(join(fitted, 'config.json'), 'utf8')) as { early_exit_layers: number[] };
    assert.deepEqual(config.early_exit_layers, [0, 1, 2, 3, 4]);
    assert.ok(existsSync(join(fitted, 'vocab.txt')));

    const source = readSafetensors(join(FIXTURE_DIR, 'model.safetensors'));
    const written = readSafetensors(join(fitted, 'model.safetensors'));
    for (const name of source.names().filter((n) => !n.includes('.highway.'))) {
      assert.deepEqual(written.float32(name), source.float32(name), name);
    }
    assert.ok(written.names().includes('bert.encoder.highway.0.pooler.dense.weight'));
    assert.ok(written.names().includes('bert.encoder.highway.4.classifier.bias'));
    // Trained, not copied: the heads moved away from the final classifier they started from.
    assert.notDeepEqual(
      written.float32('bert.encoder.highway.0.classifier.weight'),
      source.float32('classifier.weight'),
    );
  });

  it("reaches at least 90% of the original heads' layer saving at the same accuracy-drop target (held-apart rows)", async () => {
    const target = parseTarget('accuracy-drop=0.005');
    const original = calibrateRuns(await collectFromFile({ model: FIXTURE_DIR, data: FIXTURE_DEV }), { target });
    const ours = calibrateRuns(await collectFromFile({ model: fitted, data: FIXTURE_DEV }), { target });
    const saving = (meanLayers: number) => 1 - meanLayers / 6;
    const ratio = saving(ours.heldOut!.meanLayers) / saving(original.heldOut!.meanLayers);
    assert.ok(
      ratio >= 0.9,
      `fitted heads save ${saving(ours.heldOut!.meanLayers)}, original ${saving(original.heldOut!.meanLayers)}`,
    );
    assert.ok(ours.heldOut!.agreement >= 0.99, `held-out agreement ${ours.heldOut!.agreement}`);
    assert.ok(ours.heldOut!.accuracyDrop! <= 0.005, `held-out accuracy drop ${ours.heldOut!.accuracyDrop}`);
  });

  it('computes the exact gradient of the KL loss (finite differences on a tiny head)', () => {
    const H = 3;
    const C = 3;
    let s = 7;
    const r = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296 - 0.5;
    const p: HeadParams = {
      hidden: H,
      classes: C,
      poolerWeight: Float32Array.from({ length: H * H }, r),
      poolerBias: Float32Array.from({ length: H }, r),
      classifierWeight: Float32Array.from({ length: C * H }, r),
      classifierBias: Float32Array.from({ length: C }, r),
    };
    const x = Float32Array.from({ length: 4 * H }, () => 2 * r());
    const q = softmaxRows(
      Float64Array.from({ length: 4 * C }, () => 4 * r()),
      C,
    );
    const g = klGradient(p, x, q, [0, 1, 2, 3]);
    for (const key of ['poolerWeight', 'poolerBias', 'classifierWeight', 'classifierBias'] as const) {
      for (let i = 0; i < p[key].length; i++) {
        const keep = p[key][i]!;
        const h = 1e-2;
        p[key][i] = keep + h;
        const up = klLoss(p, x, q);
        p[key][i] = keep - h;
        const down = klLoss(p, x, q);
        p[key][i] = keep;
        const numeric = (up - down) / (2 * h);
        assert.ok(
          Math.abs(numeric - g[key][i]!) < 1e-4 + 1e-2 * Math.abs(numeric),
          `${key}[${i}]: numeric ${numeric}, analytic ${g[key][i]}`,
        );
      }
    }
    assert.ok(forwardHead(p, x, 0, 1).logits.length === C);
  });

  it('refuses to write into the model directory itself', async () => {
    await assert.rejects(fitExits({ model: stripped, data: UNLABELED, out: stripped, layers: [0] }), FitExitsError);
  });

  it('the CLI fits the chosen layers and prints the loss before and after', async () => {
    const text = join(dir, 'few.txt');
    writeFileSync(text, readFileSync(UNLABELED, 'utf8').split('\n').slice(0, 120).join('\n'));
    const out = join(dir, 'cli-out');
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=development',
        'coordinator/cli/main.ts',
        'fit-exits',
        '--model',
        stripped,
        '--data',
        text,
        '--out',
        out,
        '--layers',
        '1',
        '--epochs',
        '1',
      ],
      {
        maxBuffer: 1 << 24,
      },
    );
    assert.match(stdout, /train before\s+train after\s+val before\s+val after/);
    assert.match(stdout, /^\s+2\s+\d\.\d{5}\s+\d\.\d{5}/m);
    assert.deepEqual((await loadCheckpoint(out)).exitLayers, [1, 5]);
  });
});
