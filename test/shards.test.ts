import assert from 'node:assert/strict';
import { compileShard, IO, range, type ShardSpec } from '../coordinator/compiler/index.js';
import { forwardFloat64 } from '../coordinator/reference/index.js';
import { ShardSession, int64Tensor, sumFloat32, type HostTensor } from '../device-agent/runtime/index.js';
import { makeBatch, makeTinyModel, maxAbsDiff, type TinyModel } from './helpers/tiny-model.js';
import { contiguousCuts, setPartitions } from './helpers/partitions.js';

const TOLERANCE = 1e-4;

describe('ONNX shards', function () {
  let model: TinyModel;
  const batch = makeBatch([9, 5, 7], 120);
  let feeds: Record<string, HostTensor>;
  const cache = new Map<string, ShardSession>();

  const session = async (spec: ShardSpec) => {
    const key = JSON.stringify(spec);
    if (!cache.has(key))
      cache.set(key, await ShardSession.create(compileShard(model.checkpoint, spec), { threads: 1 }));
    return cache.get(key)!;
  };
  const run = async (spec: ShardSpec, extra: Record<string, HostTensor> = {}) =>
    (await session(spec)).run({ ...feeds, ...extra });

  before(async () => {
    model = await makeTinyModel({ layers: 3, hidden: 32, heads: 4, intermediate: 64 });
    feeds = {
      [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
      [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
      [IO.attentionMask]: int64Tensor(batch.attentionMask, batch.dims),
    };
  });
  after(async () => {
    await Promise.all([...cache.values()].map((s) => s.release()));
    model.cleanup();
  });

  /** Hidden state entering layer `layer`, via the single-layer chain. */
  const hiddenBefore = async (layer: number) => {
    let hidden = (await run({ kind: 'embeddings' }))[IO.hiddenOut]!;
    for (let l = 0; l < layer; l++)
      hidden = (await run({ kind: 'layers', start: l, end: l + 1 }, { [IO.hidden]: hidden }))[IO.hiddenOut]!;
    return hidden;
  };

  it('the monolithic graph agrees with a plain float64 forward pass within 1e-4 at every exit', async () => {
    const { config, weights } = model.checkpoint;
    const reference = forwardFloat64(weights, config, {
      inputIds: batch.ids,
      attentionMask: batch.mask,
      tokenTypeIds: batch.types,
    });
    const out = await run({ kind: 'monolithic', exitLogits: true });
    for (let l = 0; l < config.numLayers; l++) {
      const expected = reference.headLogits[l]!.flat();
      const actual = out[l === config.numLayers - 1 ? IO.logits : IO.exitLogits(l)]!.data as Float32Array;
      assert.ok(maxAbsDiff(actual, expected) < TOLERANCE, `exit ${l}: max diff ${maxAbsDiff(actual, expected)}`);
    }
    // The logits must actually vary, or the comparison above proves little.
    assert.ok(new Set(reference.headLogits[2]!.flat().map((v) => v.toFixed(4))).size > 3);
  });

  it('per-layer hidden states agree with the float64 forward pass within 1e-4', async () => {
    const { config, weights } = model.checkpoint;
    const reference = forwardFloat64(weights, config, {
      inputIds: batch.ids,
      attentionMask: batch.mask,
      tokenTypeIds: batch.types,
    });
    for (let l = 0; l < config.numLayers; l++) {
      const actual = (await hiddenBefore(l + 1)).data as Float32Array;
      const expected = reference.layerOutputs[l]!.flatMap((rows) => rows.flatMap((r) => Array.from(r)));
      assert.ok(maxAbsDiff(actual, expected) < TOLERANCE, `layer ${l}: max diff ${maxAbsDiff(actual, expected)}`);
    }
  });

  it('every cut of the layers into contiguous ranges recombines to the monolithic logits', async () => {
    const L = model.checkpoint.config.numLayers;
    const expected = (await run({ kind: 'monolithic' }))[IO.logits]!.data as Float32Array;
    const cuts = contiguousCuts(L);
    assert.equal(cuts.length, 2 ** (L - 1));
    for (const ranges of cuts) {
      let hidden = (await run({ kind: 'embeddings' }))[IO.hiddenOut]!;
      for (const [start, end] of ranges)
        hidden = (await run({ kind: 'layers', start, end }, { [IO.hidden]: hidden }))[IO.hiddenOut]!;
      const logits = (await run({ kind: 'head', layer: L - 1 }, { [IO.hidden]: hidden }))[IO.logits]!
        .data as Float32Array;
      assert.ok(maxAbsDiff(logits, expected) < TOLERANCE, `cut ${JSON.stringify(ranges)}`);
    }
  });

  it('a layer-range shard with exit outputs gives the same exit logits as the standalone head shards', async () => {
    const out = await run(
      { kind: 'layers', start: 0, end: 2, exitLogits: true },
      { [IO.hidden]: await hiddenBefore(0) },
    );
    for (const l of [0, 1]) {
      const alone = (await run({ kind: 'head', layer: l }, { [IO.hidden]: await hiddenBefore(l + 1) }))[IO.logits]!;
      assert.ok(maxAbsDiff(out[IO.exitLogits(l)]!.data as Float32Array, alone.data as Float32Array) < TOLERANCE);
    }
  });

  for (const layer of [0, 2]) {
    it(`every partition of layer ${layer}'s heads, summed and combined, equals the whole attention block`, async () => {
      const hidden = await hiddenBefore(layer);
      const heads = range(0, model.checkpoint.config.numHeads);
      const whole = (await run({ kind: 'attention-partial', layer, heads }, { [IO.hidden]: hidden }))[IO.partial]!;
      const expected = (
        await run({ kind: 'attention-combine', layer }, { [IO.hidden]: hidden, [IO.partialSum]: whole })
      )[IO.hiddenOut]!;
      const partitions = setPartitions(heads);
      assert.equal(partitions.length, 15); // Bell(4)
      for (const groups of partitions) {
        const partials = await Promise.all(
          groups.map(
            async (g) =>
              (await run({ kind: 'attention-partial', layer, heads: g }, { [IO.hidden]: hidden }))[IO.partial]!,
          ),
        );
        const combined = (
          await run(
            { kind: 'attention-combine', layer },
            { [IO.hidden]: hidden, [IO.partialSum]: sumFloat32(partials) },
          )
        )[IO.hiddenOut]!;
        const diff = maxAbsDiff(combined.data as Float32Array, expected.data as Float32Array);
        assert.ok(diff < TOLERANCE, `heads ${JSON.stringify(groups)}: ${diff}`);
      }
    });
  }

  it('head groups plus uneven FFN column splits reproduce a whole layer', async () => {
    const layer = 1;
    const hidden = await hiddenBefore(layer);
    const expected = (await run({ kind: 'layers', start: layer, end: layer + 1 }, { [IO.hidden]: hidden }))[
      IO.hiddenOut
    ]!;
    const I = model.checkpoint.config.intermediateSize;
    const columnSplits: number[][][] = [
      [range(0, I)],
      [range(0, 10), range(10, I)],
      [range(0, 30), range(30, 41), range(41, I)],
      [range(0, I).filter((c) => c % 3 === 0), range(0, I).filter((c) => c % 3 !== 0)], // interleaved
    ];
    const headSplits = [
      [[0, 1, 2, 3]],
      [[0], [1, 2, 3]],
      [
        [3, 1],
        [0, 2],
      ],
    ];
    for (const headGroups of headSplits) {
      for (const columnGroups of columnSplits) {
        const attnPartials = await Promise.all(
          headGroups.map(
            async (heads) =>
              (await run({ kind: 'attention-partial', layer, heads }, { [IO.hidden]: hidden }))[IO.partial]!,
          ),
        );
        const attended = (
          await run(
            { kind: 'attention-combine', layer },
            { [IO.hidden]: hidden, [IO.partialSum]: sumFloat32(attnPartials) },
          )
        )[IO.hiddenOut]!;
        const ffnPartials = await Promise.all(
          columnGroups.map(
            async (columns) =>
              (await run({ kind: 'ffn-partial', layer, columns }, { [IO.hidden]: attended }))[IO.partial]!,
          ),
        );
        const out = (
          await run({ kind: 'ffn-combine', layer }, { [IO.hidden]: attended, [IO.partialSum]: sumFloat32(ffnPartials) })
        )[IO.hiddenOut]!;
        const diff = maxAbsDiff(out.data as Float32Array, expected.data as Float32Array);
        assert.ok(
          diff < TOLERANCE,
          `heads ${JSON.stringify(headGroups)} columns ${columnGroups.map((c) => c.length)}: ${diff}`,
        );
      }
    }
  });

  it("outputs each token's context contribution (real queries only), and head partitions sum to the whole", async () => {
    const hidden = await hiddenBefore(0);
    const heads = range(0, 4);
    const whole = (
      await run({ kind: 'attention-partial', layer: 0, heads, attentionReceived: true }, { [IO.hidden]: hidden })
    )[IO.attentionReceived]!;
    assert.deepEqual(whole.dims, batch.dims);
    const [B, S] = batch.dims as [number, number];
    for (let b = 0; b < B; b++) {
      const row = Array.from((whole.data as Float32Array).subarray(b * S, (b + 1) * S));
      // Every real query row is a distribution over keys, so with self-attention left out the row sums to
      // less than heads × real tokens (padding queries do not count); masked keys receive nothing.
      const real = batch.mask[b]!.reduce((a: number, v) => a + v, 0);
      const total = row.reduce((a, v) => a + v, 0);
      assert.ok(total > 0 && total < 4 * real, `${total} vs ${4 * real}`);
      row.forEach((v, j) => (batch.mask[b]![j] ? assert.ok(v > 0) : assert.ok(v < 1e-6)));
    }
    const halves = await Promise.all(
      [
        [0, 2],
        [1, 3],
      ].map(
        async (g) =>
          (
            await run(
              { kind: 'attention-partial', layer: 0, heads: g, attentionReceived: true },
              { [IO.hidden]: hidden },
            )
          )[IO.attentionReceived]!,
      ),
    );
    assert.ok(maxAbsDiff(sumFloat32(halves).data as Float32Array, whole.data as Float32Array) < TOLERANCE);
    const viaLayers = (
      await run({ kind: 'layers', start: 0, end: 1, attentionReceived: true }, { [IO.hidden]: hidden })
    )[IO.attentionReceivedAt(0)]!;
    assert.ok(maxAbsDiff(viaLayers.data as Float32Array, whole.data as Float32Array) < TOLERANCE);
  });

  it('rejects impossible shard specs with a clear error', () => {
    assert.throws(
      () => compileShard(model.checkpoint, { kind: 'layers', start: 2, end: 5 }),
      /layer 4 is outside 0\.\.2/,
    );
    assert.throws(
      () => compileShard(model.checkpoint, { kind: 'attention-partial', layer: 0, heads: [0, 0] }),
      /listed twice/,
    );
    assert.throws(
      () => compileShard(model.checkpoint, { kind: 'ffn-partial', layer: 0, columns: [] }),
      /at least one FFN column/,
    );
  });
});

describe('ONNX shards with tanh GELU and relu activations', function () {
  for (const act of ['gelu_new', 'relu'] as const) {
    it(`${act}: the monolithic graph agrees with float64`, async () => {
      const model = await makeTinyModel({ layers: 2, hiddenAct: act, seed: 11 });
      try {
        const batch = makeBatch([6, 4], 120, 3);
        const { config, weights } = model.checkpoint;
        assert.equal(config.hiddenAct, act);
        const s = await ShardSession.create(compileShard(model.checkpoint, { kind: 'monolithic' }), { threads: 1 });
        const out = await s.run({
          [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
          [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
          [IO.attentionMask]: int64Tensor(batch.attentionMask, batch.dims),
        });
        await s.release();
        const ref = forwardFloat64(weights, config, { inputIds: batch.ids, attentionMask: batch.mask });
        assert.ok(maxAbsDiff(out[IO.logits]!.data as Float32Array, ref.headLogits[1]!.flat()) < TOLERANCE);
      } finally {
        model.cleanup();
      }
    });
  }
});
