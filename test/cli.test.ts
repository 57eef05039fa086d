import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { evaluate } from '../coordinator/calibration/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { FIXTURE_DEV, FIXTURE_DIR, modelCardDevFigures } from './helpers/fixture.js';
import { edgerelay } from './helpers/cli.js';

describe('the trained SST-2 fixture through the reference runner', () => {
  it('reproduces every exit accuracy and agreement of the model card on dev.tsv within 0.5 point', async () => {
    const card = modelCardDevFigures();
    assert.equal(card.length, 6);
    const result = await evaluate({ model: FIXTURE_DIR, data: FIXTURE_DEV });
    assert.equal(result.examples, 436);
    assert.deepEqual(
      result.exits.map((e) => e.layer),
      card.map((c) => c.layer),
    );
    for (const [i, c] of card.entries()) {
      assert.ok(
        Math.abs(result.exits[i]!.accuracy - c.accuracy) <= 0.005,
        `exit ${c.layer} accuracy ${result.exits[i]!.accuracy} vs card ${c.accuracy}`,
      );
      assert.ok(Math.abs(result.exits[i]!.agreement - c.agreement) <= 0.005, `exit ${c.layer} agreement`);
    }
  });
});

describe('edgerelay CLI', () => {
  it('infer --pair classifies a sentence pair as the reference runner does, and refuses a lone text', async () => {
    const { stdout, code } = await edgerelay([
      'infer',
      '--model',
      FIXTURE_DIR,
      '--json',
      'a gorgeous movie',
      '--pair',
      'a gorgeous movie',
      'dull and lifeless',
    ]);
    assert.equal(code, 0);
    const doc = JSON.parse(stdout) as { results: { text: string; text_pair?: string; score: number }[] };
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR));
    const expected = await runner.classify([
      'a gorgeous movie',
      { text: 'a gorgeous movie', textPair: 'dull and lifeless' },
    ]);
    await runner.release();
    assert.deepEqual(
      doc.results.map((r) => [r.text, r.text_pair]),
      [
        ['a gorgeous movie', undefined],
        ['a gorgeous movie', 'dull and lifeless'],
      ],
    );
    doc.results.forEach((r, i) => assert.ok(Math.abs(r.score - expected[i]!.score) < 1e-4));
    assert.notEqual(doc.results[0]!.score, doc.results[1]!.score);
    const odd = await edgerelay(['infer', '--model', FIXTURE_DIR, '--pair', 'only one']);
    assert.notEqual(odd.code, 0);
    assert.match(odd.stderr, /--pair takes two texts, the text and its pair \(got 1\)/);
  });

  it('infer --all-exits --json prints every exit with 1-based layers and probabilities that sum to 1', async () => {
    const { stdout, code } = await edgerelay([
      'infer',
      '--model',
      FIXTURE_DIR,
      '--all-exits',
      '--json',
      'a gorgeous, witty, seductive movie',
      'dull and lifeless',
    ]);
    assert.equal(code, 0);
    const doc = JSON.parse(stdout) as {
      results: {
        text: string;
        label: string;
        score: number;
        exits: { layer: number; logits: number[]; probs: number[]; label: string }[];
      }[];
    };
    assert.equal(doc.results.length, 2);
    assert.deepEqual(
      doc.results.map((r) => r.label),
      ['positive', 'negative'],
    );
    for (const r of doc.results) {
      assert.deepEqual(
        r.exits.map((e) => e.layer),
        [1, 2, 3, 4, 5, 6],
      );
      for (const e of r.exits) assert.ok(Math.abs(e.probs[0]! + e.probs[1]! - 1) < 1e-9);
      assert.equal(r.score, Math.max(...r.exits[5]!.probs));
    }
  });

  it('eval --json prints per-exit accuracy and agreement, the final exit agreeing with itself', async () => {
    const { stdout, stderr, code } = await edgerelay(['eval', '--model', FIXTURE_DIR, '--data', FIXTURE_DEV, '--json']);
    assert.equal(code, 0, stderr);
    const doc = JSON.parse(stdout) as {
      examples: number;
      exits: { layer: number; accuracy: number; agreement: number }[];
    };
    assert.equal(doc.examples, 436);
    assert.equal(doc.exits.at(-1)!.agreement, 1);
    assert.ok(doc.exits[0]!.accuracy > 0.75);
  });

  it('names the missing file when the model directory is not a checkpoint, without a stack trace', async () => {
    const { stderr, code } = await edgerelay(['infer', '--model', '/nonexistent/model', 'hello']);
    assert.equal(code, 1);
    assert.match(stderr, /\/nonexistent\/model/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

  it('init-random writes a checkpoint that infer can run', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/edgerelay-cli-`);
    try {
      const made = await edgerelay([
        'init-random',
        '--out',
        dir,
        '--layers',
        '2',
        '--hidden',
        '32',
        '--heads',
        '4',
        '--vocab-size',
        '200',
        '--exits',
      ]);
      assert.equal(made.code, 0, made.stderr);
      const { stdout, code } = await edgerelay(['infer', '--model', dir, '--all-exits', '--json', 'a b c']);
      assert.equal(code, 0);
      const doc = JSON.parse(stdout) as { results: { exits: unknown[] }[] };
      assert.equal(doc.results[0]!.exits.length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('infer with many texts (onnxruntime-node crashes on a long command line)', function () {
    type InferDoc = { results: { text: string; label: string; score: number }[] };
    const dev = readLabelledTsv(FIXTURE_DEV);
    let dir: string;

    before(function () {
      dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-infer-'));
    });
    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers every dev.tsv sentence given with --input FILE, in order, at the model card accuracy', async function () {
      const file = path.join(dir, 'dev.txt');
      writeFileSync(file, dev.map((e) => e.sentence).join('\n') + '\n');
      const { stdout, stderr, code } = await edgerelay(['infer', '--model', FIXTURE_DIR, '--input', file, '--json']);
      assert.equal(code, 0, stderr);
      const doc = JSON.parse(stdout) as InferDoc;
      assert.equal(doc.results.length, 436);
      assert.deepEqual(
        doc.results.map((r) => r.text),
        dev.map((e) => e.sentence),
      );
      const correct = doc.results.filter((r, i) => r.label === ['negative', 'positive'][dev[i]!.label]).length;
      assert.ok(
        Math.abs(correct / dev.length - modelCardDevFigures().at(-1)!.accuracy) <= 0.005,
        `accuracy ${correct / dev.length}`,
      );
    });

    it('reads texts from standard input with --input -, skipping blank lines and accepting CRLF', async function () {
      const { stdout, stderr, code } = await edgerelay(['infer', '--model', FIXTURE_DIR, '--input', '-', '--json'], {
        stdin: 'a gorgeous, witty, seductive movie\r\n\n   \r\ndull and lifeless\n\n',
      });
      assert.equal(code, 0, stderr);
      const doc = JSON.parse(stdout) as InferDoc;
      assert.deepEqual(
        doc.results.map((r) => [r.text, r.label]),
        [
          ['a gorgeous, witty, seductive movie', 'positive'],
          ['dull and lifeless', 'negative'],
        ],
      );
    });

    it('refuses an over-long command line with a message pointing to --input, before loading anything', async function () {
      const texts = dev.slice(0, 300).map((e) => e.sentence); // about 32 KB: this crashed with a segfault
      // A model directory that does not exist: the refusal must come before the model is even looked at.
      const { stdout, stderr, code, signal } = await edgerelay(['infer', '--model', '/nonexistent/model', ...texts]);
      assert.equal(signal ?? null, null);
      assert.equal(code, 1);
      assert.equal(stdout, '');
      assert.match(
        stderr,
        /^edgerelay: the command line carries \d+ bytes of arguments, over the 16384-byte limit .*--input FILE.*--input -/,
      );
      assert.doesNotMatch(stderr, /nonexistent/);
    });

    it('says how to give texts when there are none, and when --input is empty', async function () {
      const none = await edgerelay(['infer', '--model', FIXTURE_DIR]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no text to classify: give texts as arguments, or in a file with --input FILE/);
      const empty = await edgerelay(['infer', '--model', FIXTURE_DIR, '--input', '-'], { stdin: '\n \n' });
      assert.equal(empty.code, 1);
      assert.match(empty.stderr, /no text in --input \(standard input\)/);
      const missing = await edgerelay(['infer', '--model', FIXTURE_DIR, '--input', path.join(dir, 'absent.txt')]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot read --input .*absent\.txt/);
    });
  });
});
