import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { collectFromFile, evaluate } from '../coordinator/calibration/index.js';
import { DatasetError, readLabelledTsv, readTextExamples } from '../coordinator/datasets/index.js';
import { argmax, ReferenceRunner, type ClassifyResult } from '../coordinator/reference/index.js';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { amplifyAttention } from './helpers/amplify.js';
import { loadTokenizer, type TextInput } from '../coordinator/tokenizer/index.js';
import { makeTinyModel, type TinyModel } from './helpers/tiny-model.js';

/** GLUE-style sentence-pair TSVs, read for eval / calibrate / fit-exits and run as pairs. */

let dir: string;
const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
};

before(() => (dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-pairs-data-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('sentence-pair TSV files', () => {
  it("reads GLUE's pair columns: sentence1/sentence2, question/sentence (QNLI), question1/question2 (QQP)", () => {
    const rte = write('rte.tsv', 'index\tsentence1\tsentence2\tlabel\n0\tA man eats.\tSomeone eats.\t1\n1\tx\ty\t0\n');
    assert.deepEqual(readTextExamples(rte), {
      texts: [
        { text: 'A man eats.', textPair: 'Someone eats.' },
        { text: 'x', textPair: 'y' },
      ],
      labels: [1, 0],
    });
    assert.deepEqual(readLabelledTsv(rte)[0], { sentence: 'A man eats.', pair: 'Someone eats.', label: 1 });
    // QNLI has a "sentence" column too: the pair wins over the single-text reading.
    const qnli = write('qnli.tsv', 'index\tquestion\tsentence\tlabel\n0\tWho eats?\tA man eats.\t0\n');
    assert.deepEqual(readTextExamples(qnli).texts, [{ text: 'Who eats?', textPair: 'A man eats.' }]);
    const qqp = write('qqp.tsv', 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n7\t1\t2\tHow?\tWhy?\t1\n');
    assert.deepEqual(readTextExamples(qqp), { texts: [{ text: 'How?', textPair: 'Why?' }], labels: [1] });
    // GLUE's test files have the pair but no label: unlabelled pairs.
    const test = write('test.tsv', 'index\tsentence1\tsentence2\n0\ta\tb\n');
    assert.deepEqual(readTextExamples(test), { texts: [{ text: 'a', textPair: 'b' }] });
    // Single-sentence files read as before.
    const sst = write('sst.tsv', 'sentence\tlabel\ngood\t1\n');
    assert.deepEqual(readTextExamples(sst), { texts: ['good'], labels: [1] });
  });

  it('names the file, line and problem for a row without its second text or with a label that is not a class id', () => {
    const short = write('short.tsv', 'sentence1\tsentence2\tlabel\na\tb\t1\nonly one\n');
    assert.throws(
      () => readTextExamples(short),
      (e: unknown) => e instanceof DatasetError && /short\.tsv:3: expected both texts of a pair/.test(e.message),
    );
    const named = write('named.tsv', 'sentence1\tsentence2\tlabel\na\tb\tentailment\n');
    assert.throws(
      () => readLabelledTsv(named),
      /named\.tsv:2: expected an integer label \(the class id\), got "entailment"/,
    );
    const none = write('none.tsv', 'premise\thypothesis\tlabel\na\tb\t1\n');
    assert.throws(() => readLabelledTsv(none), /"sentence1"\/"sentence2".*found: premise, hypothesis, label/);
  });
});

describe('eval and calibrate on sentence pairs (tiny model)', function () {
  this.timeout(120_000);
  let model: TinyModel;
  let pairs: TextInput[];
  let labels: number[];
  let file: string;
  let reference: ClassifyResult[];
  let firstOnly: ClassifyResult[];

  before(async () => {
    model = await makeTinyModel({ seed: 5 });
    // Scaled up so that the second text moves the answers: reading only the first would show.
    amplifyAttention(model.dir, 8);
    const words = 'abcdefghijklmnop'.split('');
    pairs = Array.from({ length: 12 }, (_, i) => ({
      text: words.slice(i % 5, (i % 5) + 4).join(' '),
      textPair: words.slice((3 * i) % 11, ((3 * i) % 11) + 5).join(' '),
    }));
    // Gold labels are the model's own final answers on the pairs: eval must find 100% final accuracy.
    const checkpoint = await loadCheckpoint(model.dir);
    const runner = await ReferenceRunner.create(checkpoint, loadTokenizer(model.dir), { threads: 1 });
    reference = await runner.classify(pairs);
    firstOnly = await runner.classify(pairs.map((p) => (p as { text: string }).text));
    await runner.release();
    labels = reference.map((r) => argmax(r.exits.at(-1)!.probs));
    const rows = pairs.map(
      (p, i) => `${i}\t${(p as { text: string }).text}\t${(p as { textPair: string }).textPair}\t${labels[i]}`,
    );
    file = write('pairs.tsv', `index\tsentence1\tsentence2\tlabel\n${rows.join('\n')}\n`);
  });
  after(() => model?.cleanup());

  it('eval runs every row as a pair: per-exit accuracy equals the reference runner on the same pairs', async () => {
    assert.ok(reference.every((r) => r.textPair !== undefined));
    // Not vacuous: the first texts alone are answered differently on some rows.
    assert.ok(firstOnly.some((r, i) => argmax(r.exits.at(-1)!.probs) !== labels[i]));
    const evaluation = await evaluate({ model: model.dir, data: file, threads: 1 });
    assert.equal(evaluation.examples, pairs.length);
    assert.equal(evaluation.exits.at(-1)!.accuracy, 1);
    evaluation.exits.forEach((exit, k) => {
      const preds = reference.map((r) => argmax(r.exits[k]!.probs));
      const accuracy = preds.filter((p, i) => p === labels[i]).length / pairs.length;
      assert.equal(exit.accuracy, accuracy, `exit at layer ${exit.layer}`);
    });
    // calibrate's collection reads the same pairs: its final-exit distributions are the reference's.
    const runs = await collectFromFile({ model: model.dir, data: file, threads: 1 });
    runs.rows.forEach((row, i) => {
      const expected = reference[i]!.exits.at(-1)!.probs;
      row.probs.at(-1)!.forEach((p, j) => assert.ok(Math.abs(p - expected[j]!) < 1e-6));
      assert.equal(row.label, labels[i]);
    });
  });
});
