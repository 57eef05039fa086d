import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  MissingTensorError,
  UnsupportedArchitectureError,
  loadCheckpoint,
  maxSequenceLength,
  parseBertConfig,
  readSafetensors,
  writePrunedCheckpoint,
  writeSafetensors,
  type SafetensorsWriteTensor,
} from '../coordinator/checkpoint/index.js';
import { compileShard, IO, type ShardSpec } from '../coordinator/compiler/index.js';
import { forwardFamilyFloat64, robertaPositionIds } from '../coordinator/reference/index.js';
import { ShardSession, int64Tensor, type HostTensor } from '../device-agent/runtime/index.js';
import { makeTinyModel, maxAbsDiff, type TinyModel } from './helpers/tiny-model.js';
import { familyBatch, makeTinyFamily, type TinyFamily } from './helpers/tiny-family.js';
import { edgerelay } from './helpers/cli.js';

const TOLERANCE = 1e-4;
const FAMILIES: TinyFamily[] = ['roberta', 'distilbert', 'electra'];

describe('model families: RoBERTa / XLM-R, DistilBERT, ELECTRA', function () {
  it('RoBERTa position ids follow create_position_ids_from_input_ids: from padding_idx + 1, pads get padding_idx', function () {
    assert.deepEqual(robertaPositionIds([0, 7, 9, 2, 1, 1], 1), [2, 3, 4, 5, 1, 1]);
    assert.deepEqual(robertaPositionIds([1, 1, 0, 7, 2], 1), [1, 1, 2, 3, 4]); // left padding
  });

  for (const arch of FAMILIES) {
    describe(arch, function () {
      let model: TinyModel;
      let pad: number;
      const sessions: ShardSession[] = [];
      const run = async (spec: ShardSpec, feeds: Record<string, HostTensor>) => {
        const s = await ShardSession.create(compileShard(model.checkpoint, spec));
        sessions.push(s);
        return s.run(feeds);
      };
      const batchOf = (leftPad = false) => familyBatch([9, 5, 7], 120, pad, arch === 'roberta' ? 0 : 2, leftPad);
      const feedsOf = (b: ReturnType<typeof batchOf>): Record<string, HostTensor> => ({
        [IO.inputIds]: int64Tensor(b.inputIds, b.dims),
        [IO.tokenTypeIds]: int64Tensor(b.tokenTypeIds, b.dims),
        [IO.attentionMask]: int64Tensor(b.attentionMask, b.dims),
      });
      const reference = (b: ReturnType<typeof batchOf>) =>
        forwardFamilyFloat64(model.dir, { inputIds: b.ids, attentionMask: b.mask, tokenTypeIds: b.types });

      before(async () => {
        model = await makeTinyFamily(arch);
        pad = model.checkpoint.config.padTokenId;
      });
      after(async () => {
        await Promise.all(sessions.map((s) => s.release()));
        model.cleanup();
      });

      it('loads with exits after every layer and the family head', function () {
        const { config, exitLayers, exitLayout, weights } = model.checkpoint;
        assert.equal(config.modelType, arch);
        assert.deepEqual(exitLayers, [0, 1, 2]);
        assert.equal(exitLayout, 'deebert');
        assert.equal(weights.heads[2]!.activation, { roberta: 'tanh', distilbert: 'relu', electra: 'gelu' }[arch]);
        if (arch === 'roberta') assert.equal(config.positionIds, 'padding-offset');
        if (arch === 'electra') assert.equal(config.embeddingSize, 16);
      });

      it('the monolithic graph agrees with the float64 reference within 1e-4 at every exit', async () => {
        const b = batchOf();
        const ref = reference(b);
        const out = await run({ kind: 'monolithic', exitLogits: true }, feedsOf(b));
        for (const layer of [0, 1]) {
          const diff = maxAbsDiff(out[IO.exitLogits(layer)]!.data as Float32Array, ref.headLogits[layer]!.flat());
          assert.ok(diff < TOLERANCE, `exit ${layer}: ${diff}`);
        }
        const diff = maxAbsDiff(out[IO.logits]!.data as Float32Array, ref.headLogits[2]!.flat());
        assert.ok(diff < TOLERANCE, `final: ${diff}`);
        // and the logits are not trivially equal across rows (the test can fail)
        assert.notDeepEqual(ref.headLogits[2]![0], ref.headLogits[2]![1]);
      });

      it('split into stages (embeddings, layers with exits, head) agrees with the reference within 1e-4', async () => {
        const b = batchOf(arch === 'roberta'); // RoBERTa: left padding, so positions must come from the ids
        const ref = reference(b);
        const feeds = feedsOf(b);
        let hidden = (await run({ kind: 'embeddings' }, feeds))[IO.hiddenOut]!;
        const first = await run(
          { kind: 'layers', start: 0, end: 2, exitLogits: true },
          { ...feeds, [IO.hidden]: hidden },
        );
        hidden = first[IO.hiddenOut]!;
        assert.ok(maxAbsDiff(hidden.data as Float32Array, flatStates(ref.layerOutputs[1]!)) < TOLERANCE);
        for (const layer of [0, 1]) {
          const diff = maxAbsDiff(first[IO.exitLogits(layer)]!.data as Float32Array, ref.headLogits[layer]!.flat());
          assert.ok(diff < TOLERANCE, `exit ${layer}: ${diff}`);
        }
        hidden = (await run({ kind: 'layers', start: 2, end: 3 }, { ...feeds, [IO.hidden]: hidden }))[IO.hiddenOut]!;
        const logits = (await run({ kind: 'head', layer: 2 }, { [IO.hidden]: hidden }))[IO.logits]!;
        assert.ok(maxAbsDiff(logits.data as Float32Array, ref.headLogits[2]!.flat()) < TOLERANCE);
      });

      it('a HALP group (heads and FFN columns over two devices) gives the reference layer within 1e-4', async () => {
        const b = batchOf();
        const ref = reference(b);
        const feeds = feedsOf(b);
        const mask = { [IO.attentionMask]: feeds[IO.attentionMask]! };
        const x = (await run({ kind: 'embeddings' }, feeds))[IO.hiddenOut]!;
        const layer = 0;
        const sum = (a: HostTensor, c: HostTensor): HostTensor => ({
          dtype: 'float32',
          dims: a.dims,
          data: (a.data as Float32Array).map((v, i) => v + (c.data as Float32Array)[i]!),
        });
        const attn = await Promise.all(
          [
            [0, 1],
            [2, 3],
          ].map((heads) =>
            run({ kind: 'attention-partial', layer, heads }, { ...mask, [IO.hidden]: x }).then((o) => o[IO.partial]!),
          ),
        );
        const attended = (
          await run({ kind: 'attention-combine', layer }, { [IO.hidden]: x, [IO.partialSum]: sum(attn[0]!, attn[1]!) })
        )[IO.hiddenOut]!;
        const ffn = await Promise.all(
          [Array.from({ length: 40 }, (_, i) => i), Array.from({ length: 24 }, (_, i) => 40 + i)].map((columns) =>
            run({ kind: 'ffn-partial', layer, columns }, { [IO.hidden]: attended }).then((o) => o[IO.partial]!),
          ),
        );
        const out = (
          await run({ kind: 'ffn-combine', layer }, { [IO.hidden]: attended, [IO.partialSum]: sum(ffn[0]!, ffn[1]!) })
        )[IO.hiddenOut]!;
        const diff = maxAbsDiff(out.data as Float32Array, flatStates(ref.layerOutputs[0]!));
        assert.ok(diff < TOLERANCE, `group layer 0: ${diff}`);
      });
    });
  }

  it('RoBERTa: pair-style token type ids cannot index past the one-row type table', async () => {
    const model = await makeTinyFamily('roberta');
    try {
      const b = familyBatch([6, 4], 120, 1, 0);
      const ones = BigInt64Array.from(b.tokenTypeIds, () => 1n);
      const s = await ShardSession.create(compileShard(model.checkpoint, { kind: 'embeddings' }));
      const run = (types: BigInt64Array) =>
        s.run({
          [IO.inputIds]: int64Tensor(b.inputIds, b.dims),
          [IO.tokenTypeIds]: int64Tensor(types, b.dims),
          [IO.attentionMask]: int64Tensor(b.attentionMask, b.dims),
        });
      const [zero, one] = [await run(b.tokenTypeIds), await run(ones)];
      assert.deepEqual(one[IO.hiddenOut]!.data, zero[IO.hiddenOut]!.data);
      await s.release();
      assert.equal(maxSequenceLength(model.checkpoint.config), 64); // 66 rows, positions from 2
    } finally {
      model.cleanup();
    }
  });

  for (const arch of ['roberta', 'distilbert'] as const) {
    it(`${arch}: prune-heads removes heads under the family's tensor names; the pruned model matches the reference`, async () => {
      const model = await makeTinyFamily(arch, { exits: false });
      const out = `${model.dir}-pruned`;
      try {
        writePrunedCheckpoint(model.dir, out, [
          [0, 1],
          [2, 0],
          [2, 3],
        ]);
        const q =
          arch === 'roberta'
            ? 'roberta.encoder.layer.2.attention.self.query.weight'
            : 'distilbert.transformer.layer.2.attention.q_lin.weight';
        assert.deepEqual(readSafetensors(path.join(out, 'model.safetensors')).info(q).shape, [16, 32]);
        const ckpt = await loadCheckpoint(out);
        assert.deepEqual(ckpt.config.prunedHeads, [[1], [], [0, 3]]);
        const b = familyBatch([6, 4], 120, ckpt.config.padTokenId, arch === 'roberta' ? 0 : 2);
        const ref = forwardFamilyFloat64(out, { inputIds: b.ids, attentionMask: b.mask });
        const s = await ShardSession.create(compileShard(ckpt, { kind: 'monolithic' }));
        const o = await s.run({
          [IO.inputIds]: int64Tensor(b.inputIds, b.dims),
          [IO.tokenTypeIds]: int64Tensor(b.tokenTypeIds, b.dims),
          [IO.attentionMask]: int64Tensor(b.attentionMask, b.dims),
        });
        await s.release();
        assert.ok(maxAbsDiff(o[IO.logits]!.data as Float32Array, ref.headLogits[2]!.flat()) < TOLERANCE);
      } finally {
        model.cleanup();
        rmSync(out, { recursive: true, force: true });
      }
    });
  }

  it('names a missing family tensor and the file, and refuses an unknown model_type listing the supported ones', async () => {
    const model = await makeTinyFamily('distilbert', { exits: false });
    try {
      const file = readSafetensors(path.join(model.dir, 'model.safetensors'));
      const missing = 'distilbert.transformer.layer.1.ffn.lin2.weight';
      const tensors: Record<string, SafetensorsWriteTensor> = {};
      for (const info of file.tensors.values()) {
        if (info.name !== missing) tensors[info.name] = { shape: [...info.shape], data: () => file.float32(info.name) };
      }
      writeSafetensors(path.join(model.dir, 'model.safetensors'), tensors, { dtype: 'F32' });
      await assert.rejects(loadCheckpoint(model.dir), (e: unknown) => {
        assert.ok(e instanceof MissingTensorError);
        assert.equal(e.tensor, missing);
        assert.match(e.message, /DistilBertForSequenceClassification/);
        return true;
      });
    } finally {
      model.cleanup();
    }
    // A DistilBERT config that disagrees with its weights is reported in DistilBERT's own field names.
    const small = await makeTinyFamily('distilbert', { exits: false });
    try {
      const configPath = path.join(small.dir, 'config.json');
      const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
      writeFileSync(configPath, JSON.stringify({ ...config, hidden_dim: 48 }));
      await assert.rejects(loadCheckpoint(small.dir), /ffn\.lin1\.weight" .*\[64, 32\].*hidden_dim=48.*\[48, 32\]/);
    } finally {
      small.cleanup();
    }
    // BERT weights under a RoBERTa config: the error names the expected tensor and what the file holds instead.
    const bert = await makeTinyModel({ layers: 1 });
    try {
      const configPath = path.join(bert.dir, 'config.json');
      const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
      writeFileSync(configPath, JSON.stringify({ ...config, model_type: 'roberta', architectures: undefined }));
      await assert.rejects(loadCheckpoint(bert.dir), (e: unknown) => {
        assert.ok(e instanceof MissingTensorError);
        assert.equal(e.tensor, 'roberta.embeddings.word_embeddings.weight');
        assert.match(e.message, /start with "bert\."/);
        return true;
      });
    } finally {
      bert.cleanup();
    }
    assert.throws(
      () => parseBertConfig({ model_type: 'deberta-v2' }, 'config.json'),
      (e: unknown) =>
        e instanceof UnsupportedArchitectureError &&
        /"deberta-v2", which is not supported/.test(e.message) &&
        /"roberta", "xlm-roberta", "distilbert", "electra"/.test(e.message),
    );
    assert.throws(
      () => parseBertConfig({ model_type: 'roberta', architectures: ['BertForSequenceClassification'] }, 'config.json'),
      /RobertaForSequenceClassification/,
    );
  });

  it('edgerelay init-random --arch roberta|distilbert|electra writes loadable checkpoints with every tensor used', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-init-families-'));
    try {
      for (const arch of FAMILIES) {
        const out = path.join(dir, arch);
        const args = ['init-random', '--arch', arch, '--out', out, '--layers', '2', '--hidden', '16', '--heads', '2'];
        const r = await edgerelay([...args, '--vocab-size', '110', '--exits', '--embedding-size', '8']);
        assert.equal(r.code, 0, r.stderr);
        const loaded = await loadCheckpoint(out);
        assert.equal(loaded.config.modelType, arch);
        assert.deepEqual(loaded.exitLayers, [0, 1]);
        assert.deepEqual(loaded.unusedTensors, []);
        assert.equal(loaded.config.embeddingSize, arch === 'electra' ? 8 : undefined);
        const raw = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
        if (arch === 'distilbert') assert.deepEqual([raw.dim, raw.n_layers, raw.n_heads], [16, 2, 2]);
        else assert.equal(raw.hidden_size, 16);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads DistilBERT config names (dim, n_layers, n_heads, hidden_dim, activation) and XLM-R as RoBERTa', function () {
    const d = parseBertConfig(
      { model_type: 'distilbert', dim: 64, n_layers: 2, n_heads: 4, hidden_dim: 128, activation: 'relu' },
      'config.json',
    ).config;
    assert.deepEqual(
      [d.hiddenSize, d.numLayers, d.numHeads, d.intermediateSize, d.hiddenAct, d.typeVocabSize, d.layerNormEps],
      [64, 2, 4, 128, 'relu', 1, 1e-12],
    );
    const x = parseBertConfig(
      {
        model_type: 'xlm-roberta',
        architectures: ['XLMRobertaForSequenceClassification'],
        max_position_embeddings: 514,
      },
      'config.json',
    ).config;
    assert.equal(x.positionIds, 'padding-offset');
    assert.equal(x.padTokenId, 1);
    assert.equal(maxSequenceLength(x), 512);
  });

  it('an XLM-R checkpoint (model_type xlm-roberta, XLMRoberta* class) loads and answers like the reference', async () => {
    const model = await makeTinyFamily('roberta', { exits: false });
    try {
      const configPath = path.join(model.dir, 'config.json');
      const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
      writeFileSync(
        configPath,
        JSON.stringify({
          ...config,
          model_type: 'xlm-roberta',
          architectures: ['XLMRobertaForSequenceClassification'],
        }),
      );
      const ckpt = await loadCheckpoint(model.dir);
      const b = familyBatch([5, 3], 120, 1, 0);
      const ref = forwardFamilyFloat64(model.dir, { inputIds: b.ids, attentionMask: b.mask });
      const s = await ShardSession.create(compileShard(ckpt, { kind: 'monolithic' }));
      const out = await s.run({
        [IO.inputIds]: int64Tensor(b.inputIds, b.dims),
        [IO.tokenTypeIds]: int64Tensor(b.tokenTypeIds, b.dims),
        [IO.attentionMask]: int64Tensor(b.attentionMask, b.dims),
      });
      await s.release();
      assert.ok(maxAbsDiff(out[IO.logits]!.data as Float32Array, ref.headLogits[2]!.flat()) < TOLERANCE);
    } finally {
      model.cleanup();
    }
  });
});

function flatStates(states: Float64Array[][]): number[] {
  return states.flatMap((rows) => rows.flatMap((r) => Array.from(r)));
}
