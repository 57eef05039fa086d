import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import {
  Int8WeightsError,
  convertCheckpoint,
  loadCheckpoint,
  quantizeRows,
  readSafetensors,
  writePrunedCheckpoint,
  writeSafetensors,
  type SafetensorsInt8Tensor,
} from '../coordinator/checkpoint/index.js';
import type { Checkpoint, Tensor } from '../coordinator/checkpoint/types.js';
import { GraphBuilder, compileShard, IO, range, type ShardSpec } from '../coordinator/compiler/index.js';
import { emitLinear } from '../coordinator/compiler/linear.js';
import { forwardFloat64 } from '../coordinator/reference/index.js';
import { fitExits } from '../coordinator/distill/index.js';
import {
  ShardSession,
  float32Tensor,
  int64Tensor,
  sumFloat32,
  type HostTensor,
} from '../device-agent/runtime/index.js';
import { makeBatch, makeTinyModel, maxAbsDiff, type TinyModel } from './helpers/tiny-model.js';
import { makeTinyAlbert } from './helpers/tiny-albert.js';
import { edgerelay } from './helpers/cli.js';

/**
 * int8 shards differ from float only by the run-time uint8 quantization of activations (the weights are exactly
 * q·scale in both): on these tiny random models that stays under 3% of the largest logit. Wrong scales or a
 * mis-sliced int8 block would be off by the logits' own size.
 */
const RELATIVE = 0.03;

const nodesOf = (bytes: Uint8Array) => onnxProto.onnx.ModelProto.decode(bytes).graph!.node!;
const withinRelative = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => {
  const scale = Math.max(...Array.from(expected, Math.abs));
  const diff = maxAbsDiff(actual, expected);
  assert.ok(scale > 1e-3, `${what}: logits too small to compare (${scale})`);
  if (process.env.INT8_DEBUG) console.log(what, (diff / scale).toFixed(4));
  assert.ok(diff <= RELATIVE * scale, `${what}: max diff ${diff} vs largest logit ${scale}`);
};

async function runShard(checkpoint: Checkpoint, spec: ShardSpec, feeds: Record<string, HostTensor>) {
  const session = await ShardSession.create(compileShard(checkpoint, spec), { threads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

function feedsOf(batch: ReturnType<typeof makeBatch>): Record<string, HostTensor> {
  return {
    [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
    [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
    [IO.attentionMask]: int64Tensor(batch.attentionMask, batch.dims),
  };
}

async function converted(src: string): Promise<{ dir: string; checkpoint: Checkpoint }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-int8-'));
  await convertCheckpoint(src, dir, 'int8');
  return { dir, checkpoint: await loadCheckpoint(dir) };
}

describe('int8 quantization of a weight', () => {
  it('maps each row to [-127, 127] by its own largest magnitude, within half a step of the float value', () => {
    const data = Float32Array.from([0.5, -0.25, 0.1, 0, 0, 0, -3, 1.5, 0.001]);
    const q = quantizeRows(data, 3, 3);
    assert.deepEqual(Array.from(q.scale), [Math.fround(0.5 / 127), 1, Math.fround(3 / 127)]);
    assert.deepEqual(Array.from(q.values.subarray(0, 3)), [127, -64, 25]);
    assert.deepEqual(Array.from(q.values.subarray(3, 6)), [0, 0, 0]); // an all-zero row stays zero
    assert.equal(q.values[6], -127);
    for (let i = 0; i < data.length; i++) {
      const s = q.scale[Math.floor(i / 3)]!;
      assert.ok(Math.abs(q.values[i]! * s - data[i]!) <= s / 2 + 1e-9, `value ${i}`);
    }
  });

  it('one int8 linear layer equals the integer arithmetic DynamicQuantizeMatMul is defined by', async () => {
    // y = (round(x / a_scale) + zp - zp) · q · a_scale · b_scale + bias, with ONNX DynamicQuantizeLinear's
    // uint8 a_scale = (max(0, max x) - min(0, min x)) / 255 and zp = round(-min(0, min x) / a_scale).
    const [M, K, N] = [3, 5, 4];
    const x = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 1.7) * 2 + 0.3);
    const wf = Float32Array.from({ length: N * K }, (_, i) => Math.cos(i * 0.9) * 0.05 * (1 + (i % 4)));
    const int8 = quantizeRows(wf, N, K);
    const weight: Tensor = { shape: [N, K], data: wf, int8 };
    const bias: Tensor = { shape: [N], data: Float32Array.from([0.1, -0.2, 0.3, 0]) };
    const rows = [3, 0, 2]; // a sliced, reordered subset as a head shard takes it
    const g = new GraphBuilder('one linear');
    g.expose(emitLinear(g, g.input('x', 'float32', [M, K]), weight, bias, 'l', { rows, factor: 0.5 }), 'y', 'float32', [
      M,
      rows.length,
    ]);
    const session = await ShardSession.create(g.toBytes(), { threads: 1 });
    const y = (await session.run({ x: { dtype: 'float32', dims: [M, K], data: x } })).y!.data as Float32Array;
    await session.release();
    const max = Math.max(0, ...x);
    const min = Math.min(0, ...x);
    const aScale = Math.fround((max - min) / 255);
    const zp = Math.round(-min / aScale);
    const xq = Array.from(x, (v) => Math.min(255, Math.max(0, Math.round(v / aScale) + zp)) - zp);
    for (let m = 0; m < M; m++) {
      rows.forEach((r, n) => {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += xq[m * K + k]! * int8.values[r * K + k]!;
        const expected = acc * aScale * int8.scale[r]! * 0.5 + bias.data[r]! * 0.5;
        assert.ok(
          Math.abs(y[m * rows.length + n]! - expected) < 1e-5,
          `y[${m}, ${n}] ${y[m * rows.length + n]} vs ${expected}`,
        );
      });
    }
  });
});

describe('an int8 checkpoint (edgerelay convert --dtype int8)', function () {
  let model: TinyModel;
  let int8: { dir: string; checkpoint: Checkpoint };
  const batch = makeBatch([9, 5, 7], 120);
  let feeds: Record<string, HostTensor>;

  before(async () => {
    model = await makeTinyModel({ layers: 3, hidden: 32, heads: 4, intermediate: 64 });
    int8 = await converted(model.dir);
    feeds = feedsOf(batch);
  });
  after(() => {
    model.cleanup();
    rmSync(int8.dir, { recursive: true, force: true });
  });

  it('stores every linear weight as I8 with a float32 scale per output channel, and the rest as float32', () => {
    const file = readSafetensors(path.join(int8.dir, 'model.safetensors'));
    const source = readSafetensors(path.join(model.dir, 'model.safetensors'));
    let quantized = 0;
    for (const name of source.names()) {
      const { dtype, shape } = file.info(name);
      const linear = shape.length === 2 && !/_embeddings\.weight$/.test(name);
      assert.equal(dtype, linear ? 'I8' : 'F32', name);
      if (!linear) continue;
      quantized++;
      assert.deepEqual(file.info(`${name}_scale`).shape, [shape[0]], name);
      assert.equal(file.info(`${name}_scale`).dtype, 'F32');
    }
    // 3 layers × 6 linear layers + 3 exits × (pooler, classifier)
    assert.equal(quantized, 3 * 6 + 3 * 2);
    const config = JSON.parse(readFileSync(path.join(int8.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal((config.quantization_config as { quant_method: string }).quant_method, 'edgerelay_int8');
    assert.equal(config.torch_dtype, 'float32');
  });

  it('loads with every tensor used, its weights exactly int8 · scale, within half a step of the float weights', () => {
    const { checkpoint } = int8;
    assert.equal(checkpoint.sourceDtype, 'I8');
    assert.deepEqual((checkpoint as { unusedTensors?: string[] }).unusedTensors, []);
    const w = checkpoint.weights.layers[1]!.intermediate.weight;
    const f = model.checkpoint.weights.layers[1]!.intermediate.weight;
    const cols = w.shape[1]!;
    assert.ok(w.int8);
    for (let i = 0; i < w.data.length; i++) {
      const s: number = w.int8.scale[Math.floor(i / cols)]!;
      assert.equal(w.data[i], Math.fround(w.int8.values[i]! * s));
      assert.ok(Math.abs(w.data[i]! - f.data[i]!) <= s / 2 + 1e-9);
    }
    assert.equal(checkpoint.weights.embeddings.word.int8, undefined);
  });

  it('compiles linear layers to DynamicQuantizeMatMul and keeps attention, LayerNorm and GELU in float', () => {
    const count = (bytes: Uint8Array, op: string) => nodesOf(bytes).filter((n) => n.opType === op).length;
    const whole = compileShard(int8.checkpoint, { kind: 'monolithic' });
    const dq = nodesOf(whole).filter((n) => n.opType === 'DynamicQuantizeMatMul');
    assert.equal(dq.length, 3 * 6 + 2);
    assert.ok(dq.every((n) => n.domain === 'com.microsoft'));
    assert.equal(count(whole, 'MatMul'), 3 * 2); // scores and context per layer
    assert.equal(count(whole, 'LayerNormalization'), 1 + 3 * 2);
    assert.equal(count(whole, 'Erf'), 3);
    assert.equal(count(compileShard(model.checkpoint, { kind: 'monolithic' }), 'DynamicQuantizeMatMul'), 0);
  });

  it('the monolithic int8 graph agrees with a float64 forward pass of the int8 weights at every exit', async () => {
    const { config, weights } = int8.checkpoint;
    const reference = forwardFloat64(weights, config, {
      inputIds: batch.ids,
      attentionMask: batch.mask,
      tokenTypeIds: batch.types,
    });
    const out = await runShard(int8.checkpoint, { kind: 'monolithic', exitLogits: true }, feeds);
    for (let l = 0; l < config.numLayers; l++) {
      const actual = out[l === config.numLayers - 1 ? IO.logits : IO.exitLogits(l)]!.data as Float32Array;
      withinRelative(actual, reference.headLogits[l]!.flat(), `exit ${l}`);
    }
  });

  it('pipeline stages, head groups, FFN column groups and exit heads recombine to the whole int8 model', async () => {
    const c = int8.checkpoint;
    const whole = await runShard(c, { kind: 'monolithic', exitLogits: true }, feeds);
    let hidden = (await runShard(c, { kind: 'embeddings' }, feeds))[IO.hiddenOut]!;
    hidden = (await runShard(c, { kind: 'layers', start: 0, end: 1 }, { ...feeds, [IO.hidden]: hidden }))[
      IO.hiddenOut
    ]!;
    const exit0 = (await runShard(c, { kind: 'head', layer: 0 }, { [IO.hidden]: hidden }))[IO.logits]!;
    withinRelative(exit0.data as Float32Array, whole[IO.exitLogits(0)]!.data as Float32Array, 'exit 0 head shard');
    // Layer 1 split HALP-style: heads {0, 3} and {1, 2}, FFN columns in three uneven interleaved groups.
    const I = c.config.intermediateSize;
    const groupRun = async (spec: ShardSpec, x: HostTensor) =>
      (await runShard(c, spec, { ...feeds, [IO.hidden]: x }))[IO.partial]!;
    const attn = await Promise.all(
      [
        [0, 3],
        [1, 2],
      ].map((heads) => groupRun({ kind: 'attention-partial', layer: 1, heads }, hidden)),
    );
    const attended = (
      await runShard(
        c,
        { kind: 'attention-combine', layer: 1 },
        { [IO.hidden]: hidden, [IO.partialSum]: sumFloat32(attn) },
      )
    )[IO.hiddenOut]!;
    const columnGroups = [
      range(0, I).filter((i) => i % 3 === 0),
      range(0, I).filter((i) => i % 3 === 1),
      range(0, I).filter((i) => i % 3 === 2),
    ];
    const ffn = await Promise.all(
      columnGroups.map((columns) => groupRun({ kind: 'ffn-partial', layer: 1, columns }, attended)),
    );
    hidden = (
      await runShard(c, { kind: 'ffn-combine', layer: 1 }, { [IO.hidden]: attended, [IO.partialSum]: sumFloat32(ffn) })
    )[IO.hiddenOut]!;
    const last = await runShard(
      c,
      { kind: 'layers', start: 2, end: 3, exitLogits: true },
      { ...feeds, [IO.hidden]: hidden },
    );
    withinRelative(last[IO.exitLogits(2)]!.data as Float32Array, whole[IO.logits]!.data as Float32Array, 'split model');
  });

  it('position-parallel shards keep DynamicQuantizeMatMul (row-major) and members’ positions recombine to the whole int8 layer', async () => {
    const c = int8.checkpoint;
    for (const spec of [
      { kind: 'keys-values', layer: 0 },
      { kind: 'position-layer', layer: 0 },
    ] as ShardSpec[])
      assert.equal(
        nodesOf(compileShard(c, spec)).filter((n) => n.opType === 'DynamicQuantizeMatMul').length,
        spec.kind === 'keys-values' ? 2 : 4,
      );
    // One sequence of the batch, its positions split 3 + rest between two members, as the agents run it.
    const one = makeBatch([9], 120);
    const oneFeeds = feedsOf(one);
    const hidden = (await runShard(c, { kind: 'embeddings' }, oneFeeds))[IO.hiddenOut]!;
    const H = c.config.hiddenSize;
    const slice = (a: number, b: number) =>
      float32Tensor((hidden.data as Float32Array).slice(a * H, b * H), [1, b - a, H]);
    const parts = [slice(0, 3), slice(3, 9)];
    const kvs = [];
    for (const x of parts)
      kvs.push((await runShard(c, { kind: 'keys-values', layer: 0 }, { [IO.hidden]: x }))[IO.keysValues]!);
    const width = kvs[0]!.dims[2]!;
    const all = float32Tensor(
      new Float32Array([...(kvs[0]!.data as Float32Array), ...(kvs[1]!.data as Float32Array)]),
      [1, 9, width],
    );
    const outs = [];
    for (const [k, x] of parts.entries())
      outs.push(
        (
          await runShard(
            c,
            { kind: 'position-layer', layer: 0 },
            {
              [IO.hidden]: x,
              [IO.keysValues]: all,
              [IO.attentionMask]: oneFeeds[IO.attentionMask]!,
              [IO.queryOffset]: int64Tensor(BigInt64Array.of(k === 0 ? 0n : 3n), [1]),
            },
          )
        )[IO.hiddenOut]!,
      );
    const whole = await runShard(c, { kind: 'layers', start: 0, end: 1 }, { ...oneFeeds, [IO.hidden]: hidden });
    const joined = [...(outs[0]!.data as Float32Array), ...(outs[1]!.data as Float32Array)];
    withinRelative(joined, whole[IO.hiddenOut]!.data as Float32Array, 'position-split int8 layer');
  });

  it('a head-pruned checkpoint converts to int8 and runs with its remaining heads', async () => {
    const prunedDir = mkdtempSync(path.join(tmpdir(), 'edgerelay-pruned-'));
    try {
      writePrunedCheckpoint(model.dir, prunedDir, [
        [0, 1],
        [2, 0],
        [2, 3],
      ]);
      const pruned = await converted(prunedDir);
      try {
        const { config, weights } = pruned.checkpoint;
        assert.deepEqual(weights.layers[2]!.query.weight.shape, [16, 32]);
        assert.ok(weights.layers[2]!.query.weight.int8);
        const reference = forwardFloat64(weights, config, {
          inputIds: batch.ids,
          attentionMask: batch.mask,
          tokenTypeIds: batch.types,
        });
        const out = await runShard(pruned.checkpoint, { kind: 'monolithic' }, feeds);
        withinRelative(out[IO.logits]!.data as Float32Array, reference.headLogits[2]!.flat(), 'pruned');
        // A plan's head group lists original indices: layer 2's group {0, 1} is just head 1 now.
        const h2 = (await runShard(pruned.checkpoint, { kind: 'embeddings' }, feeds))[IO.hiddenOut]!;
        const partial = await runShard(
          pruned.checkpoint,
          { kind: 'attention-partial', layer: 2, heads: [0, 1] },
          { ...feeds, [IO.hidden]: h2 },
        );
        assert.deepEqual(partial[IO.partial]!.dims, h2.dims);
      } finally {
        rmSync(pruned.dir, { recursive: true, force: true });
      }
    } finally {
      rmSync(prunedDir, { recursive: true, force: true });
    }
  });

  it('edgerelay convert --dtype int8 says what it wrote and how much smaller the weights are', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'edgerelay-int8-cli-'));
    try {
      const { stdout, code } = await edgerelay(['convert', '--model', model.dir, '--out', out, '--dtype', 'int8']);
      assert.equal(code, 0);
      assert.match(stdout, /as int8 \(from F32\)/);
      assert.match(stdout, /24 linear weights int8 with per-channel scales/);
      assert.ok((await loadCheckpoint(out)).weights.layers[0]!.key.weight.int8);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses to prune heads of, fit exits on, or convert an int8 checkpoint, saying to use the float model', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'edgerelay-refused-'));
    try {
      assert.throws(
        () => writePrunedCheckpoint(int8.dir, out, [[0, 0]]),
        (e: unknown) => {
          assert.ok(e instanceof Int8WeightsError);
          assert.equal(e.code, 'EDGERELAY_INT8_WEIGHTS');
          assert.match(e.message, /pruning heads needs the float checkpoint/);
          return true;
        },
      );
      await assert.rejects(convertCheckpoint(int8.dir, out, 'f16'), Int8WeightsError);
      // fit-exits says so before it computes any feature (the data file is not even read).
      await assert.rejects(fitExits({ model: int8.dir, data: path.join(out, 'none.txt'), out }), /fitting exit heads/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses an int8 weight whose scale is missing, naming the tensor', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-noscale-'));
    try {
      await convertCheckpoint(model.dir, dir, 'int8');
      const file = readSafetensors(path.join(dir, 'model.safetensors'));
      const victim = 'bert.encoder.layer.1.output.dense.weight';
      const tensors: Record<string, SafetensorsInt8Tensor | { shape: number[]; data: Float32Array }> = {};
      for (const info of file.tensors.values()) {
        if (info.name === `${victim}_scale`) continue;
        tensors[info.name] =
          info.dtype === 'I8'
            ? {
                shape: [...info.shape],
                dtype: 'I8',
                data: Int8Array.from(file.bytes(info.name), (b) => (b << 24) >> 24),
              }
            : { shape: [...info.shape], data: Float32Array.from(file.float32(info.name)) };
      }
      writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { dtype: 'F32' });
      await assert.rejects(loadCheckpoint(dir), (e: unknown) => {
        assert.ok(e instanceof Int8WeightsError);
        assert.match(e.message, new RegExp(`"${victim}".*scale "${victim}_scale" is missing`));
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an int8 ALBERT (shared layer groups)', function () {
  it('converts, keeps one shard per shared group, and agrees with the float64 pass of its int8 weights', async () => {
    const albert = await makeTinyAlbert();
    const int8 = await converted(albert.dir);
    try {
      const { config, weights } = int8.checkpoint;
      assert.ok(weights.embeddings.projection!.weight.int8);
      assert.ok(weights.innerLayers![0]![1]!.value.weight.int8);
      // Slots 0 and 1 apply group 0: the same bytes, cached and loaded once per device.
      const slot = (l: number) => Buffer.from(compileShard(int8.checkpoint, { kind: 'layers', start: l, end: l + 1 }));
      assert.ok(slot(0).equals(slot(1)));
      const batch = makeBatch([6, 4], 120);
      const reference = forwardFloat64(weights, config, {
        inputIds: batch.ids,
        attentionMask: batch.mask,
        tokenTypeIds: batch.types,
      });
      const out = await runShard(int8.checkpoint, { kind: 'monolithic' }, feedsOf(batch));
      withinRelative(
        out[IO.logits]!.data as Float32Array,
        reference.headLogits[config.numLayers - 1]!.flat(),
        'albert',
      );
    } finally {
      albert.cleanup();
      rmSync(int8.dir, { recursive: true, force: true });
    }
  });
});
