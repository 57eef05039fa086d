import assert from 'node:assert/strict';
import { compileShard, IO } from '../coordinator/compiler/index.js';
import { contextContributionFloat64, forwardPrunedFloat64, ReferenceRunner } from '../coordinator/reference/index.js';
import { encoderLayer, embed } from '../coordinator/reference/float64.js';
import { runPrunedBatch } from '../coordinator/reference/pruned-batch.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { ShardSession, int64Tensor, parseTokenPruning, type TokenPruning } from '@edgerelay/device-agent';
import { FIXTURE_DIR } from './helpers/fixture.js';
import { makeBatch, makeTinyModel, maxAbsDiff, type TinyModel } from './helpers/tiny-model.js';
import type { EncodedBatch } from '../coordinator/tokenizer/index.js';

function encoded(b: ReturnType<typeof makeBatch>, lengths: number[]): EncodedBatch {
  return {
    batchSize: b.dims[0]!,
    seqLen: b.dims[1]!,
    inputIds: b.inputIds,
    attentionMask: b.attentionMask,
    tokenTypeIds: b.tokenTypeIds,
    lengths,
  };
}

describe('token pruning by attention context contribution (tiny random model)', function () {
  this.timeout(60_000);
  let model: TinyModel;
  let runner: ReferenceRunner;
  const lengths = [9, 5, 12, 3];
  const batch = makeBatch(lengths, 120, 4);

  before(async () => {
    model = await makeTinyModel({ layers: 4, seed: 21 });
    runner = await ReferenceRunner.create(model.checkpoint, loadTokenizer(FIXTURE_DIR), { threads: 1 });
  });
  after(async () => {
    await runner.release();
    model.cleanup();
  });

  it('the shard score equals a float64 computation: Σ heads, Σ real queries other than the token itself', async () => {
    const { config, weights } = model.checkpoint;
    const session = await ShardSession.create(
      compileShard(model.checkpoint, { kind: 'layers', start: 0, end: 1, attentionReceived: true }),
      { threads: 1 },
    );
    const embedSession = await ShardSession.create(compileShard(model.checkpoint, { kind: 'embeddings' }), {
      threads: 1,
    });
    try {
      const dims = batch.dims;
      const hidden = (
        await embedSession.run({
          [IO.inputIds]: int64Tensor(batch.inputIds, dims),
          [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, dims),
        })
      )[IO.hiddenOut]!;
      const out = await session.run({
        [IO.hidden]: hidden,
        [IO.attentionMask]: int64Tensor(batch.attentionMask, dims),
      });
      const scores = out[IO.attentionReceivedAt(0)]!.data as Float32Array;
      const S = dims[1]!;
      let worst = 0;
      batch.ids.forEach((ids, b) => {
        const probs: Float64Array[][] = [];
        encoderLayer(
          weights.layers[0]!,
          config,
          embed(weights, config, ids, batch.types[b]!),
          batch.mask[b]!,
          1,
          undefined,
          probs,
        );
        const expected = contextContributionFloat64(
          probs,
          batch.mask[b]!.map((v) => v === 1),
        );
        for (let j = 0; j < S; j++) worst = Math.max(worst, Math.abs(scores[b * S + j]! - expected[j]!));
        // Padding keys get nothing; the real keys share Σ_h (n − Σ_i P_h[i,i]) ≤ heads · (n − 1)... below heads · n.
        for (let j = lengths[b]!; j < S; j++) assert.ok(scores[b * S + j]! < 1e-6);
      });
      assert.ok(worst < 1e-5, `score differs from float64 by ${worst}`);
    } finally {
      await session.release();
      await embedSession.release();
    }
  });

  it('a pruned batch of different lengths equals the float64 pruned forward pass (same tokens, logits within 1e-4)', async () => {
    const pruning = parseTokenPruning('keep=1,0.8,0.6,0.4')!;
    const heads = await runner.runBatch(encoded(batch, lengths), undefined, pruning);
    const { config, weights } = model.checkpoint;
    const ref = forwardPrunedFloat64(weights, config, { inputIds: batch.ids, attentionMask: batch.mask }, pruning.keep);
    // Per-sequence k: ⌈keep · n⌉, at least 2 ([CLS] and [SEP]).
    assert.deepEqual(
      heads.tokens,
      ref.positions.map((perSeq) => perSeq.map((p) => p.length)),
    );
    assert.deepEqual(
      heads.tokens!.map((perSeq) => perSeq[2]),
      [12, 10, 8, 5],
    );
    for (const [layer, logits] of heads.logits) {
      const d = maxAbsDiff(logits, ref.headLogits[layer]!.flat());
      assert.ok(d < 1e-4, `layer ${layer}: ${d}`);
    }
    // [CLS] and the last real token survive every layer; kept positions stay in order.
    for (const perLayer of ref.positions)
      perLayer.forEach((pos, b) => {
        assert.equal(pos[0], 0);
        assert.equal(pos.at(-1), lengths[b]! - 1);
        assert.deepEqual(
          pos,
          [...pos].sort((x, y) => x - y),
        );
      });
  });

  it('each sequence of a pruned batch gets the answer it gets alone', async () => {
    const pruning = parseTokenPruning('keep=1,0.7,0.5,0.3')!;
    const together = await runner.runBatch(encoded(batch, lengths), undefined, pruning);
    for (let b = 0; b < lengths.length; b++) {
      const one = makeBatch([lengths[b]!], 120, 4);
      // The same tokens as row b of the batch (makeBatch draws per row in order): copy them over.
      const ids = batch.ids[b]!.slice(0, lengths[b]);
      one.inputIds.set(ids.map((v) => BigInt(v)));
      const alone = await runner.runBatch(encoded(one, [lengths[b]!]), undefined, pruning);
      for (const [layer, logits] of alone.logits) {
        const row = together.logits.get(layer)!.subarray(b * 3, b * 3 + 3);
        assert.ok(maxAbsDiff(logits, row) < 1e-5, `sequence ${b} layer ${layer}`);
      }
      assert.deepEqual(
        alone.tokens!.map((t) => t[0]),
        together.tokens!.map((t) => t[b]),
      );
    }
  });

  it('a schedule of all ones changes nothing: bit-identical logits, also through the scoring shards', async () => {
    const ones: TokenPruning = { keep: [1, 1, 1, 1] };
    const plain = await runner.runBatch(encoded(batch, lengths));
    const viaSpec = await runner.runBatch(encoded(batch, lengths), undefined, ones);
    const sessions = await Promise.all(
      [0, 1, 2, 3].map((l) =>
        ShardSession.create(
          compileShard(model.checkpoint, { kind: 'layers', start: l, end: l + 1, attentionReceived: true }),
          { threads: 1 },
        ),
      ),
    );
    const embeddings = await ShardSession.create(compileShard(model.checkpoint, { kind: 'embeddings' }), {
      threads: 1,
    });
    const heads = new Map<number, ShardSession>();
    for (const l of model.checkpoint.exitLayers)
      heads.set(
        l,
        await ShardSession.create(compileShard(model.checkpoint, { kind: 'head', layer: l }), { threads: 1 }),
      );
    try {
      const scored = await runPrunedBatch(encoded(batch, lengths), ones, embeddings, sessions, heads);
      for (const [layer, logits] of plain.logits) {
        assert.deepEqual(Array.from(viaSpec.logits.get(layer)!), Array.from(logits));
        assert.deepEqual(Array.from(scored.logits.get(layer)!), Array.from(logits), `layer ${layer}`);
      }
    } finally {
      await Promise.all([embeddings, ...sessions, ...heads.values()].map((s) => s.release()));
    }
  });

  it('refuses a schedule that does not list one ratio per layer', async () => {
    await assert.rejects(runner.runBatch(encoded(batch, lengths), undefined, { keep: [1, 0.5] }), {
      code: 'EDGERELAY_TOKEN_PRUNING_SPEC',
      message: /lists 2 ratios but the model has 4 layers/,
    });
  });
});
