import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint, writePrunedCheckpoint } from '../coordinator/checkpoint/index.js';
import { compileShard, IO, type ShardSpec } from '../coordinator/compiler/index.js';
import onnxProto from 'onnx-proto';
import { forwardFloat64 } from '../coordinator/reference/index.js';
import { float32Tensor, int64Tensor, ShardSession, type HostTensor } from '../device-agent/runtime/index.js';
import { makeBatch, makeTinyModel, maxAbsDiff, type TinyModel } from './helpers/tiny-model.js';

/** Positions [a, b) of every sequence of a [batch, seq, width] tensor. */
function positions(t: HostTensor, a: number, b: number): HostTensor {
  const [batch, seq, width] = t.dims as [number, number, number];
  const data = t.data as Float32Array;
  const out = new Float32Array(batch * (b - a) * width);
  for (let i = 0; i < batch; i++)
    out.set(data.subarray((i * seq + a) * width, (i * seq + b) * width), i * (b - a) * width);
  return float32Tensor(out, [batch, b - a, width]);
}

/** Concatenates [batch, n_k, width] tensors along the positions. */
function joinPositions(parts: HostTensor[]): HostTensor {
  const [batch, , width] = parts[0]!.dims as [number, number, number];
  const seq = parts.reduce((s, p) => s + p.dims[1]!, 0);
  const out = new Float32Array(batch * seq * width);
  for (let i = 0; i < batch; i++) {
    let at = 0;
    for (const p of parts) {
      const n = p.dims[1]!;
      out.set((p.data as Float32Array).subarray(i * n * width, (i + 1) * n * width), (i * seq + at) * width);
      at += n;
    }
  }
  return float32Tensor(out, [batch, seq, width]);
}

describe('position-parallel shards (keys-values + position-layer)', function () {
  let model: TinyModel;
  // Three sequences of different lengths: padding keys must be masked, padding queries left out of the scores.
  const batch = makeBatch([9, 5, 7], 120);
  const cache = new Map<string, ShardSession>();
  const mask = int64Tensor(batch.attentionMask, batch.dims);
  const session = async (spec: ShardSpec) => {
    const key = JSON.stringify(spec);
    if (!cache.has(key))
      cache.set(key, await ShardSession.create(compileShard(model.checkpoint, spec), { threads: 1 }));
    return cache.get(key)!;
  };
  /** One layer split over members owning `cuts` of the positions, as the agents run it. */
  const splitLayer = async (layer: number, hidden: HostTensor, cuts: number[]) => {
    const bounds = [0, ...cuts, hidden.dims[1]!];
    const slices = bounds.slice(1).map((b, k) => positions(hidden, bounds[k]!, b));
    const kvs = await Promise.all(
      slices.map(
        async (x) => (await (await session({ kind: 'keys-values', layer })).run({ [IO.hidden]: x }))[IO.keysValues]!,
      ),
    );
    const all = joinPositions(kvs);
    const layerShard = await session({ kind: 'position-layer', layer });
    const outs = await Promise.all(
      slices.map((x, k) =>
        layerShard.run({
          [IO.hidden]: x,
          [IO.keysValues]: all,
          [IO.attentionMask]: mask,
          [IO.queryOffset]: int64Tensor(BigInt64Array.of(BigInt(bounds[k]!)), [1]),
        }),
      ),
    );
    const received = new Float32Array(outs[0]![IO.attentionReceived]!.data.length);
    for (const o of outs) (o[IO.attentionReceived]!.data as Float32Array).forEach((v, i) => (received[i]! += v));
    return { hidden: joinPositions(outs.map((o) => o[IO.hiddenOut]!)), received };
  };

  before(async () => {
    model = await makeTinyModel({ layers: 3, hidden: 32, heads: 4, intermediate: 64 });
  });
  after(async () => {
    await Promise.all([...cache.values()].map((s) => s.release()));
    model.cleanup();
  });

  it('members owning 1, 3 and 5 positions give the whole layer and its context contributions within 1e-5', async () => {
    const embeddings = await session({ kind: 'embeddings' });
    const hidden = (
      await embeddings.run({
        [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
        [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
      })
    )[IO.hiddenOut]!;
    const whole = await (
      await session({ kind: 'layers', start: 0, end: 1, attentionReceived: true })
    ).run({ [IO.hidden]: hidden, [IO.attentionMask]: mask });
    const split = await splitLayer(0, hidden, [1, 4]);
    const diff = maxAbsDiff(split.hidden.data as Float32Array, whole[IO.hiddenOut]!.data as Float32Array);
    assert.ok(diff < 1e-5, `hidden differs by ${diff}`);
    const scores = whole[IO.attentionReceivedAt(0)]!.data as Float32Array;
    assert.ok(maxAbsDiff(split.received, scores) < 1e-5, `scores differ by ${maxAbsDiff(split.received, scores)}`);
    assert.ok(Math.max(...scores) > 0.5, 'the scores must be real contributions, or the comparison proves little');
  });

  it('every layer split over positions, then the final head, agrees with a plain float64 forward pass within 1e-4', async () => {
    const { config, weights } = model.checkpoint;
    const reference = forwardFloat64(weights, config, {
      inputIds: batch.ids,
      attentionMask: batch.mask,
      tokenTypeIds: batch.types,
    });
    let hidden = (
      await (
        await session({ kind: 'embeddings' })
      ).run({
        [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
        [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
      })
    )[IO.hiddenOut]!;
    for (let l = 0; l < config.numLayers; l++) hidden = (await splitLayer(l, hidden, [2, 3, 6])).hidden;
    const last = config.numLayers - 1;
    const logits = (await (await session({ kind: 'head', layer: last })).run({ [IO.hidden]: hidden }))[IO.logits]!;
    const expected = reference.headLogits[last]!.flat();
    assert.ok(maxAbsDiff(logits.data as Float32Array, expected) < 1e-4);
    assert.ok(new Set(expected.map((v) => v.toFixed(4))).size > 3, 'the logits must vary');
  });

  it('float32 shards put every weight on the left of its product (feature-major: few rows run at the whole-sequence rate)', () => {
    for (const spec of [
      { kind: 'keys-values', layer: 0 },
      { kind: 'position-layer', layer: 0 },
    ] as ShardSpec[]) {
      const graph = onnxProto.onnx.ModelProto.decode(compileShard(model.checkpoint, spec)).graph!;
      const weights = new Set(graph.initializer!.map((t) => t.name));
      const products = graph.node!.filter((n) => n.opType === 'MatMul');
      const weighted = products.filter((n) => n.input!.some((i) => weights.has(i)));
      // keys-values: keys, values; position-layer: query, output, FFN in and out (scores and context: no weights).
      assert.equal(weighted.length, spec.kind === 'keys-values' ? 2 : 4);
      for (const n of weighted) assert.ok(weights.has(n.input![0]!) && !weights.has(n.input![1]!), n.name!);
    }
  });

  it('an exit head on the first member’s positions alone reads the same [CLS] token as on every position', async () => {
    const hidden = float32Tensor(
      Float32Array.from({ length: 3 * 9 * 32 }, (_, i) => Math.sin(i)),
      [3, 9, 32],
    );
    const head = await session({ kind: 'head', layer: 0 });
    const all = (await head.run({ [IO.hidden]: hidden }))[IO.logits]!.data as Float32Array;
    const first = (await head.run({ [IO.hidden]: positions(hidden, 0, 3) }))[IO.logits]!.data as Float32Array;
    assert.deepEqual(Array.from(first), Array.from(all));
  });

  it('a layer with pruned heads: its remaining heads give the whole pruned layer within 1e-5; a layer with none is refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-pruned-'));
    try {
      // Layer 1 keeps heads 1 and 3; layer 2 keeps none.
      writePrunedCheckpoint(model.dir, dir, [
        [1, 0],
        [1, 2],
        [2, 0],
        [2, 1],
        [2, 2],
        [2, 3],
      ]);
      const pruned = await loadCheckpoint(dir);
      const open = (spec: ShardSpec) => ShardSession.create(compileShard(pruned, spec), { threads: 1 });
      const hidden = float32Tensor(
        Float32Array.from({ length: 3 * 9 * 32 }, (_, i) => Math.sin(i / 3)),
        [3, 9, 32],
      );
      const whole = await open({ kind: 'layers', start: 1, end: 2 });
      const expected = (await whole.run({ [IO.hidden]: hidden, [IO.attentionMask]: mask }))[IO.hiddenOut]!;
      const kv = await open({ kind: 'keys-values', layer: 1 });
      const layer = await open({ kind: 'position-layer', layer: 1 });
      const parts = [positions(hidden, 0, 4), positions(hidden, 4, 9)];
      const kvs = await Promise.all(parts.map(async (x) => (await kv.run({ [IO.hidden]: x }))[IO.keysValues]!));
      assert.equal(kvs[0]!.dims[2], 2 * 2 * 8, 'two heads of 8: keys then values');
      const outs = await Promise.all(
        parts.map((x, k) =>
          layer.run({
            [IO.hidden]: x,
            [IO.keysValues]: joinPositions(kvs),
            [IO.attentionMask]: mask,
            [IO.queryOffset]: int64Tensor(BigInt64Array.of(BigInt(k * 4)), [1]),
          }),
        ),
      );
      const got = joinPositions(outs.map((o) => o[IO.hiddenOut]!));
      assert.ok(maxAbsDiff(got.data as Float32Array, expected.data as Float32Array) < 1e-5);
      await Promise.all([whole, kv, layer].map((x) => x.release()));
      assert.throws(
        () => compileShard(pruned, { kind: 'keys-values', layer: 2 }),
        (err: Error & { code?: string }) => err.code === 'EDGERELAY_SHARD_SPEC' && /every head/.test(err.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a parameter-shared (ALBERT) checkpoint is refused with a clear error', async () => {
    const albert = {
      ...model.checkpoint,
      config: { ...model.checkpoint.config, albert: { numHiddenGroups: 1, innerGroupNum: 1 } },
    };
    assert.throws(
      () => compileShard(albert as typeof model.checkpoint, { kind: 'keys-values', layer: 0 }),
      (err: Error & { code?: string }) => err.code === 'EDGERELAY_SHARD_SPEC' && /another form/.test(err.message),
    );
  });
});
