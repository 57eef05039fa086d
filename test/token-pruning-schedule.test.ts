import assert from 'node:assert/strict';
import {
  encoderFlops,
  parseSpeedupTarget,
  predictedSpeedup,
  scheduleForSpeedup,
  layerFlops,
} from '../coordinator/pruning/index.js';
import { formatKeep, parseTokenPruning, pruneBatch, selectTokens, tokensAt } from '@edgerelay/device-agent';

const BERT_BASE = { numLayers: 12, hiddenSize: 768, intermediateSize: 3072 };
const SMALL = { numLayers: 6, hiddenSize: 256, intermediateSize: 1024 };

describe('token-pruning schedules', () => {
  it('parses keep=… into one ratio per layer, and none into no pruning', () => {
    assert.deepEqual(parseTokenPruning('keep=1,1,0.7,0.5,0.4,0.3'), { keep: [1, 1, 0.7, 0.5, 0.4, 0.3] });
    assert.deepEqual(parseTokenPruning(' keep=1, .5 ,0.25 '), { keep: [1, 0.5, 0.25] });
    assert.equal(parseTokenPruning('none'), undefined);
    assert.equal(formatKeep([1, 0.5, 0.25]), 'keep=1,0.5,0.25');
  });

  const bad: [string, RegExp][] = [
    ['1,0.5', /not a schedule: write keep=R0,R1/],
    ['keep=', /empty ratio/],
    ['keep=1,,0.5', /empty ratio/],
    ['keep=1,abc', /"abc" is not a number/],
    ['keep=1,-0.5', /"-0.5" is not a number/],
    ['keep=1,0', /ratio 0 for layer 1 is outside \(0, 1\]/],
    ['keep=1,1.5', /ratio 1.5 for layer 1 is outside \(0, 1\]/],
    ['keep=1,0.5,0.7', /grows from 0.5 to 0.7 at layer 2/],
    ['keep=0.9,0.5', /layer 0 runs on every token/],
    ['keep=1,NaN', /is not a number/],
  ];
  for (const [spec, message] of bad)
    it(`refuses "${spec}" with a typed error that says what to write`, () => {
      assert.throws(() => parseTokenPruning(spec), { code: 'EDGERELAY_TOKEN_PRUNING_SPEC', message });
    });

  it('applies each ratio to the real length, never below [CLS]+[SEP] nor above the length', () => {
    const keep = [1, 0.7, 0.5, 0.01];
    assert.deepEqual(
      [0, 1, 2, 3].map((l) => tokensAt(keep, l, 10)),
      [10, 7, 5, 2],
    );
    assert.equal(tokensAt(keep, 3, 1), 1);
    assert.equal(tokensAt(keep, 1, 3), 3);
  });

  it('keeps the top-k by score, the first and last always, in original order, ties to the earlier row', () => {
    const score = [0, 5, 1, 5, 9, 0];
    assert.deepEqual(
      selectTokens([0, 1, 2, 3, 4, 5], (r) => score[r]!, 4),
      [0, 1, 4, 5],
    );
    assert.deepEqual(
      selectTokens([0, 1, 2, 3, 4, 5], (r) => score[r]!, 5),
      [0, 1, 3, 4, 5],
    );
    assert.deepEqual(
      selectTokens([0, 1, 2], (r) => score[r]!, 2),
      [0, 2],
    );
  });

  it('gathers each sequence’s kept rows and mask, padding the shorter ones', () => {
    const width = 2;
    const hidden = Float32Array.from({ length: 2 * 4 * width }, (_, i) => i);
    const mask = BigInt64Array.from([1n, 1n, 1n, 1n, 1n, 1n, 1n, 0n]);
    const scores = [0, 1, 3, 0, 0, 2, 1, 0];
    const out = pruneBatch(
      { dtype: 'float32', dims: [2, 4, width], data: hidden },
      { dtype: 'int64', dims: [2, 4], data: mask },
      scores,
      [3, 2],
    )!;
    assert.deepEqual(out.kept, [
      [0, 2, 3],
      [0, 2],
    ]);
    assert.deepEqual(out.hidden.dims, [2, 3, width]);
    assert.deepEqual(Array.from(out.hidden.data as Float32Array), [0, 1, 4, 5, 6, 7, 8, 9, 12, 13, 0, 0]);
    assert.deepEqual(Array.from(out.mask.data as BigInt64Array), [1n, 1n, 1n, 1n, 1n, 0n]);
    assert.equal(
      pruneBatch(
        { dtype: 'float32', dims: [2, 4, width], data: hidden },
        { dtype: 'int64', dims: [2, 4], data: mask },
        scores,
        [4, 3],
      ),
      undefined,
    );
  });
});

describe('the token-pruning FLOP model', () => {
  it('counts a layer as α·n + β·n² (projections and FFN linear, scores and context quadratic)', () => {
    const { hiddenSize: H, intermediateSize: F } = BERT_BASE;
    assert.equal(layerFlops(BERT_BASE, 128), 2 * (4 * 128 * H * H + 2 * 128 * F * H) + 4 * 128 * 128 * H);
    assert.equal(encoderFlops(BERT_BASE, 128), 12 * layerFlops(BERT_BASE, 128));
    assert.equal(predictedSpeedup(BERT_BASE, new Array(12).fill(1), 128), 1);
    assert.ok(Math.abs(predictedSpeedup(BERT_BASE, new Array(12).fill(0.5), 128) - 2) < 0.1);
  });

  for (const shape of [BERT_BASE, SMALL])
    for (const target of [1, 1.2, 1.5, 2, 3])
      it(`inverts: speed-up ${target} → schedule → speed-up ≥ ${target} → the same schedule (${shape.numLayers} layers)`, () => {
        const s = scheduleForSpeedup(shape, target, 128);
        assert.equal(s.keep[0], 1);
        s.keep.forEach((r, l) => assert.ok(l === 0 || r <= s.keep[l - 1]!));
        const achieved = predictedSpeedup(shape, s.keep, 128);
        assert.ok(achieved >= target - 1e-9, `${achieved} < ${target}`);
        assert.ok(achieved < target * 1.002 || target === 1, `overshoots: ${achieved} for ${target}`);
        const again = scheduleForSpeedup(shape, achieved, 128);
        again.keep.forEach((r, l) =>
          assert.ok(Math.abs(r - s.keep[l]!) <= 2e-4, `${formatKeep(again.keep)} vs ${formatKeep(s.keep)}`),
        );
      });

  it('prunes late before early: a higher target never keeps more at any layer, and ones come first', () => {
    const a = scheduleForSpeedup(SMALL, 1.3, 64).keep;
    const b = scheduleForSpeedup(SMALL, 1.8, 64).keep;
    b.forEach((r, l) => assert.ok(r <= a[l]! + 1e-12));
    assert.deepEqual(a.slice(0, 2), [1, 1]);
  });

  it('says when a target is out of reach, and refuses malformed targets', () => {
    assert.throws(() => scheduleForSpeedup(SMALL, 10, 64), {
      code: 'EDGERELAY_TOKEN_PRUNING_TARGET',
      message: /out of reach .* at most/,
    });
    assert.throws(() => parseSpeedupTarget('speedup=0.5'), { code: 'EDGERELAY_TOKEN_PRUNING_TARGET' });
    assert.throws(() => parseSpeedupTarget('fast'), /write speedup=S/);
    assert.equal(parseSpeedupTarget('speedup=1.5'), 1.5);
  });
});
