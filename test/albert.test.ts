import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  InvalidConfigError,
  MissingTensorError,
  loadCheckpoint,
  parseBertConfig,
  readSafetensors,
  writeSafetensors,
  type SafetensorsWriteTensor,
} from '../coordinator/checkpoint/index.js';
import { compileShard, IO, type ShardSpec } from '../coordinator/compiler/index.js';
import { forwardFloat64, ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { ShardSession, int64Tensor, type HostTensor } from '../device-agent/runtime/index.js';
import { OdeStepsError, odeExitLayers, odeSchedule } from '@edgerelay/proto';
import { makeBatch, makeTinyModel, maxAbsDiff, type TinyModel } from './helpers/tiny-model.js';
import { makeTinyAlbert } from './helpers/tiny-albert.js';
import { edgerelay } from './helpers/cli.js';

const TOLERANCE = 1e-4;
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('ODE step schedule', function () {
  it('puts step t of K on slot floor(L·t/K) − 1, the last on the last slot, with β = L/K', function () {
    assert.deepEqual(odeSchedule(6, 3), { steps: 3, stepSize: 2, stepSlots: [1, 3, 5] });
    assert.deepEqual(odeSchedule(6, 2).stepSlots, [2, 5]);
    assert.deepEqual(odeSchedule(6, 4).stepSlots, [0, 2, 3, 5]);
    assert.deepEqual(odeSchedule(6).stepSlots, [0, 1, 2, 3, 4, 5]);
    assert.equal(odeSchedule(6, 6).stepSize, 1);
    // the fixture card's exits at K = 4: classifiers.0, .2, .3, then the final classifier
    assert.deepEqual(odeExitLayers([0, 1, 2, 3, 4, 5], odeSchedule(6, 4)), [0, 2, 3, 5]);
  });

  it('refuses step counts outside 1..L with a message naming the range', function () {
    for (const k of [0, 7, 2.5]) assert.throws(() => odeSchedule(6, k), OdeStepsError);
    assert.throws(() => odeSchedule(6, 7), /from 1 to 6/);
  });
});

describe('ALBERT checkpoints', function () {
  let model: TinyModel;
  const batch = makeBatch([9, 5, 7], 120);
  let feeds: Record<string, HostTensor>;
  const sessions = new Map<string, ShardSession>();
  const run = async (spec: ShardSpec, extra: Record<string, HostTensor>) => {
    const key = JSON.stringify(spec);
    if (!sessions.has(key)) sessions.set(key, await ShardSession.create(compileShard(model.checkpoint, spec)));
    return sessions.get(key)!.run({ ...feeds, ...extra });
  };
  const step = (beta: number): Record<string, HostTensor> => ({
    [IO.stepSize]: { dtype: 'float32', data: Float32Array.of(beta), dims: [1] },
  });

  before(async () => {
    model = await makeTinyAlbert();
    feeds = {
      [IO.inputIds]: int64Tensor(batch.inputIds, batch.dims),
      [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, batch.dims),
      [IO.attentionMask]: int64Tensor(batch.attentionMask, batch.dims),
    };
  });
  after(async () => {
    await Promise.all([...sessions.values()].map((s) => s.release()));
    model.cleanup();
  });

  it('maps layers to groups as Hugging Face does, every slot of a group sharing the same weight objects', function () {
    const { config, weights, exitLayers, exitLayout } = model.checkpoint;
    assert.deepEqual(config.albert, { embeddingSize: 16, numHiddenGroups: 2, innerGroupNum: 2 });
    const inner = weights.innerLayers!;
    assert.equal(inner.length, 4);
    assert.equal(inner[0], inner[1]); // slots 0, 1 → group 0
    assert.equal(inner[2], inner[3]); // slots 2, 3 → group 1
    assert.notEqual(inner[1], inner[2]);
    assert.equal(inner[0]!.length, 2);
    // and the objects are the tensors of the right group and inner layer, by name
    const st = readSafetensors(path.join(model.dir, 'model.safetensors'));
    const named = (g: number, j: number) =>
      st.tensor(`albert.encoder.albert_layer_groups.${g}.albert_layers.${j}.attention.query.weight`).data;
    assert.deepEqual(inner[1]![1]!.query.weight.data, named(0, 1));
    assert.deepEqual(inner[2]![0]!.query.weight.data, named(1, 0));
    assert.notEqual(inner[0]![0], inner[0]![1]);
    assert.equal(weights.embeddings.projection!.weight.shape.join('x'), '32x16');
    assert.deepEqual(exitLayers, [0, 1, 2, 3]);
    assert.equal(exitLayout, 'pabee');
    assert.equal(weights.heads[0]!.pooler, weights.heads[3]!.pooler); // PABEE exits share albert.pooler
  });

  for (const K of [4, 2, 3, 1]) {
    it(`compiled shards agree with a float64 ALBERT forward pass within 1e-4 at every exit, K = ${K} steps`, async () => {
      const { config, weights } = model.checkpoint;
      const reference = forwardFloat64(
        weights,
        config,
        { inputIds: batch.ids, attentionMask: batch.mask, tokenTypeIds: batch.types },
        { odeSteps: K },
      );
      const schedule = odeSchedule(config.numLayers, K);
      let hidden = (await run({ kind: 'embeddings' }, {}))[IO.hiddenOut]!;
      for (const slot of schedule.stepSlots) {
        hidden = (
          await run({ kind: 'layers', start: slot, end: slot + 1 }, { [IO.hidden]: hidden, ...step(schedule.stepSize) })
        )[IO.hiddenOut]!;
        const logits = (await run({ kind: 'head', layer: slot }, { [IO.hidden]: hidden }))[IO.logits]!.data;
        const expected = reference.headLogits[slot]!.flat();
        const diff = maxAbsDiff(logits as Float32Array, expected);
        assert.ok(diff < TOLERANCE, `K=${K} slot ${slot}: max diff ${diff}`);
      }
      const skipped = reference.headLogits.filter((h) => h === undefined).length;
      assert.equal(skipped, config.numLayers - K);
      // The logits must vary between rows and between step counts, or the comparison proves little.
      assert.ok(new Set(reference.headLogits[3]!.flat().map((v) => v.toFixed(4))).size > 3);
    });
  }

  it('the monolithic ALBERT graph (no step input) agrees with the float64 forward pass within 1e-4 at every exit', async () => {
    const { config, weights } = model.checkpoint;
    const reference = forwardFloat64(weights, config, {
      inputIds: batch.ids,
      attentionMask: batch.mask,
      tokenTypeIds: batch.types,
    });
    const out = await run({ kind: 'monolithic', exitLogits: true }, {});
    for (let l = 0; l < config.numLayers; l++) {
      const actual = out[l === config.numLayers - 1 ? IO.logits : IO.exitLogits(l)]!.data as Float32Array;
      const diff = maxAbsDiff(actual, reference.headLogits[l]!.flat());
      assert.ok(diff < TOLERANCE, `exit ${l}: max diff ${diff}`);
    }
  });

  it('K steps differ from L steps (the step size matters) and K = L equals the unscaled float64 model exactly', function () {
    const { config, weights } = model.checkpoint;
    const input = { inputIds: batch.ids, attentionMask: batch.mask, tokenTypeIds: batch.types };
    const plain = forwardFloat64(weights, config, input);
    const full = forwardFloat64(weights, config, input, { odeSteps: 4 });
    assert.deepEqual(full.headLogits, plain.headLogits);
    const two = forwardFloat64(weights, config, input, { odeSteps: 2 });
    assert.ok(maxAbsDiff(two.headLogits[3]!.flat(), plain.headLogits[3]!.flat()) > 1e-3);
  });

  it('compiles the shards of every slot of a group to identical bytes, other groups to different bytes', function () {
    const layer = (l: number) => sha(compileShard(model.checkpoint, { kind: 'layers', start: l, end: l + 1 }));
    assert.equal(layer(0), layer(1));
    assert.equal(layer(2), layer(3));
    assert.notEqual(layer(1), layer(2));
    const combine = (l: number) => sha(compileShard(model.checkpoint, { kind: 'ffn-combine', layer: l }).slice());
    // A model with inner layers cannot be split into HALP groups: the error says what to do instead.
    assert.throws(() => combine(0), /inner_group_num 2.*pipeline stages/);
  });

  it('the reference runner holds one session per distinct weight set and gives K = L bit-identical to the default', async () => {
    const tokenizer = loadTokenizer(model.dir);
    const runner = await ReferenceRunner.create(model.checkpoint, tokenizer, { threads: 1 });
    try {
      assert.equal(runner.sessionCount, 1 + 2 + 4); // embeddings, two groups, four PABEE heads
      const texts = ['the movie was good', 'a bad, boring film'];
      const base = await runner.classify(texts);
      const full = await runner.classify(texts, 16, 4);
      assert.deepEqual(full, base);
      const two = await runner.classify(texts, 16, 2);
      assert.deepEqual(
        two[0]!.exits.map((e) => e.layer),
        [1, 3],
      );
    } finally {
      await runner.release();
    }
  });

  it('refuses ODE steps on a BERT (no shared layer), and BERT shards take no step size', async () => {
    const bert: TinyModel = await makeTinyModel({ layers: 2 });
    try {
      const runner = await ReferenceRunner.create(bert.checkpoint, loadTokenizer(bert.dir), { threads: 1 });
      try {
        await assert.rejects(runner.classify(['hello'], 16, 1), /needs a parameter-shared \(ALBERT\) model/);
      } finally {
        await runner.release();
      }
      const session = await ShardSession.create(compileShard(bert.checkpoint, { kind: 'layers', start: 0, end: 1 }));
      assert.ok(!session.inputNames.includes(IO.stepSize));
      await session.release();
    } finally {
      bert.cleanup();
    }
  });

  it('names the missing shared tensor, and refuses groups that do not divide the layers', async () => {
    const file = path.join(model.dir, 'model.safetensors');
    const original = readFileSync(file);
    const st = readSafetensors(file);
    const missing = 'albert.encoder.albert_layer_groups.1.albert_layers.0.ffn_output.weight';
    const tensors: Record<string, SafetensorsWriteTensor> = {};
    for (const n of st.names()) if (n !== missing) tensors[n] = st.tensor(n);
    writeSafetensors(file, tensors, { dtype: 'F32', metadata: { format: 'pt' } });
    try {
      await assert.rejects(loadCheckpoint(model.dir), (err: Error) => {
        assert.ok(err instanceof MissingTensorError);
        assert.match(err.message, new RegExp(missing.replace(/\./g, '\\.')));
        return true;
      });
    } finally {
      writeFileSync(file, original);
    }
    const config = JSON.parse(readFileSync(path.join(model.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.throws(
      () => parseBertConfig({ ...config, num_hidden_groups: 3 }, 'config.json'),
      (err: Error) =>
        err instanceof InvalidConfigError &&
        /num_hidden_groups 3 does not divide num_hidden_layers 4/.test(err.message),
    );
  });

  it('loads a bare AlbertModel saved without the "albert." prefix: shared groups, no heads, its pooler expected', async () => {
    const dir = path.join(model.dir, 'bare');
    mkdirSync(dir);
    const st = readSafetensors(path.join(model.dir, 'model.safetensors'));
    const tensors: Record<string, SafetensorsWriteTensor> = {};
    for (const n of st.names()) if (n.startsWith('albert.')) tensors[n.slice('albert.'.length)] = st.tensor(n);
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { dtype: 'F32', metadata: { format: 'pt' } });
    const config = JSON.parse(readFileSync(path.join(model.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    delete config.early_exit_layers;
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['AlbertModel'] }));
    const bare = await loadCheckpoint(dir);
    assert.equal(bare.config.architecture, 'AlbertModel');
    assert.deepEqual(bare.exitLayers, []);
    assert.deepEqual(bare.unusedTensors, []);
    assert.equal(bare.weights.innerLayers![0], bare.weights.innerLayers![1]);
  });

  it('tokenizer_class picks the tokenizer: BertTokenizer (WordPiece) loads, AlbertTokenizer (SentencePiece) is refused by name', function () {
    const file = path.join(model.dir, 'tokenizer_config.json');
    const original = readFileSync(file);
    assert.ok(loadTokenizer(model.dir).encode('the movie', 16).ids.length > 2);
    writeFileSync(file, JSON.stringify({ do_lower_case: true, tokenizer_class: 'AlbertTokenizer' }));
    try {
      assert.throws(() => loadTokenizer(model.dir), /tokenizer_class "AlbertTokenizer".*only BERT WordPiece/);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('edgerelay init-random --arch albert writes a loadable ALBERT with the asked groups', async () => {
    const out = path.join(model.dir, 'cli-albert');
    const r = await edgerelay([
      'init-random',
      '--arch',
      'albert',
      '--out',
      out,
      '--layers',
      '6',
      '--hidden',
      '16',
      '--heads',
      '2',
      '--vocab-size',
      '110',
      '--groups',
      '3',
      '--inner-groups',
      '2',
      '--embedding-size',
      '8',
      '--exits',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const loaded = await loadCheckpoint(out);
    assert.deepEqual(loaded.config.albert, { embeddingSize: 8, numHiddenGroups: 3, innerGroupNum: 2 });
    assert.equal(loaded.config.modelType, 'albert');
    assert.deepEqual(loaded.exitLayers, [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(loaded.unusedTensors, []);
  });
});
