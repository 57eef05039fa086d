import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  InvalidConfigError,
  MissingTensorError,
  UnsupportedArchitectureError,
  buildSyntheticVocab,
  floatToHalf,
  halfToFloat,
  loadCheckpoint,
  parseBertConfig,
  readSafetensors,
  writeRandomCheckpoint,
} from '../coordinator/checkpoint/index.js';
import { tinyCheckpointCases, TINY, values, MIDDLE } from './helpers/checkpoint-cases.js';

describe('checkpoint configs and weight layouts', () => {
  const { root, tiny, copyTiny, weightsOf, editHeader, editTensors, editConfig, expectLoadError } =
    tinyCheckpointCases();

  describe('config.json', () => {
    it('rejects a GPT-2 model_type, naming config.json, the model type and what is supported', async () => {
      const dir = copyTiny();
      editConfig(dir, (c) => void (c.model_type = 'gpt2'));
      await expectLoadError(
        dir,
        UnsupportedArchitectureError,
        join(dir, 'config.json'),
        '"gpt2"',
        '"bert"',
        'BertForSequenceClassification',
      );
    });

    it('rejects an unsupported architecture class even with model_type bert', () => {
      assert.throws(
        () => parseBertConfig({ model_type: 'bert', architectures: ['GPT2LMHeadModel'] }, '/m/config.json'),
        (e: unknown) =>
          e instanceof UnsupportedArchitectureError &&
          /\/m\/config\.json/.test(e.message) &&
          /GPT2LMHeadModel/.test(e.message) &&
          /BertModel/.test(e.message),
      );
    });

    it('fills in Hugging Face BertConfig defaults for missing optional fields', () => {
      const { config, architectureDeclared } = parseBertConfig(
        {
          model_type: 'bert',
          vocab_size: 100,
          hidden_size: 64,
          num_hidden_layers: 3,
          num_attention_heads: 4,
          intermediate_size: 128,
        },
        'config.json',
      );
      assert.equal(architectureDeclared, false);
      assert.deepEqual(config, {
        modelType: 'bert',
        architecture: 'BertForSequenceClassification',
        vocabSize: 100,
        hiddenSize: 64,
        numLayers: 3,
        numHeads: 4,
        intermediateSize: 128,
        maxPositions: 512,
        typeVocabSize: 2,
        layerNormEps: 1e-12,
        hiddenAct: 'gelu',
        numLabels: 2,
        labels: ['LABEL_0', 'LABEL_1'],
        padTokenId: 0,
      });
    });

    it('takes the label count from num_labels, and id2label names in index order', () => {
      assert.deepEqual(parseBertConfig({ model_type: 'bert', num_labels: 3 }, 'c.json').config.labels, [
        'LABEL_0',
        'LABEL_1',
        'LABEL_2',
      ]);
      const { config } = parseBertConfig(
        { model_type: 'bert', id2label: { 1: 'pos', 0: 'neg', 2: 'mixed' } },
        'c.json',
      );
      assert.deepEqual([config.numLabels, config.labels], [3, ['neg', 'pos', 'mixed']]);
      assert.throws(
        () => parseBertConfig({ model_type: 'bert', id2label: { 0: 'a', 2: 'b' } }, 'c.json'),
        InvalidConfigError,
      );
      assert.throws(
        () => parseBertConfig({ model_type: 'bert', num_labels: 3, id2label: { 0: 'a', 1: 'b' } }, 'c.json'),
        /disagrees/,
      );
    });

    it('gives a BertModel no labels even when its config carries the default id2label', () => {
      const { config } = parseBertConfig(
        { model_type: 'bert', architectures: ['BertModel'], id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } },
        'c.json',
      );
      assert.deepEqual([config.architecture, config.numLabels, config.labels], ['BertModel', 0, []]);
    });

    it('rejects unsupported activations, position embeddings and head counts with clear errors', () => {
      const check = (extra: Record<string, unknown>, cls: typeof InvalidConfigError, re: RegExp) =>
        assert.throws(
          () => parseBertConfig({ model_type: 'bert', ...extra }, 'x/config.json'),
          (e: unknown) => e instanceof cls && re.test(e.message) && e.message.includes('x/config.json'),
        );
      check({ hidden_act: 'swish' }, UnsupportedArchitectureError, /hidden_act "swish".*"gelu"/);
      check({ position_embedding_type: 'relative_key' }, UnsupportedArchitectureError, /relative_key.*absolute/);
      check(
        { hidden_size: 30, num_attention_heads: 4 },
        InvalidConfigError,
        /hidden_size 30 is not divisible by num_attention_heads 4/,
      );
      check({ hidden_size: '256' }, InvalidConfigError, /hidden_size/);
      check({ early_exit_layers: [12] }, InvalidConfigError, /early_exit_layers lists layer 12/);
    });

    it('reports a config.json that is not JSON', async () => {
      const dir = copyTiny();
      writeFileSync(join(dir, 'config.json'), '{ "model_type": "bert", ');
      await expectLoadError(dir, InvalidConfigError, join(dir, 'config.json'), 'not valid JSON');
    });
  });

  describe('weight layouts', () => {
    it('loads legacy LayerNorm gamma/beta names as weight/bias', async () => {
      const dir = copyTiny();
      editTensors(dir, (t) =>
        Object.fromEntries(
          Object.entries(t).map(([k, v]) => [
            k.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta'),
            v,
          ]),
        ),
      );
      assert.ok(readSafetensors(weightsOf(dir)).has('bert.encoder.layer.1.output.LayerNorm.gamma'));
      const [legacy, modern] = await Promise.all([loadCheckpoint(dir), loadCheckpoint(tiny())]);
      assert.deepEqual(legacy.weights.layers[1]!.outputLayerNorm, modern.weights.layers[1]!.outputLayerNorm);
      assert.deepEqual(legacy.weights.embeddings.layerNorm, modern.weights.embeddings.layerNorm);
      assert.deepEqual(legacy.unusedTensors, []);
    });

    it('detects the PABEE layout: a classifier per layer sharing the model pooler', async () => {
      const dir = copyTiny();
      editTensors(dir, (t) => {
        const out = Object.fromEntries(
          Object.entries(t).filter(([k]) => !k.includes('highway') && !k.startsWith('classifier.')),
        );
        for (let i = 0; i < 2; i++) {
          out[`classifiers.${i}.weight`] = { shape: [2, 32], data: new Float32Array(64).fill(i + 1) };
          out[`classifiers.${i}.bias`] = { shape: [2], data: Float32Array.from([i, -i]) };
        }
        return out;
      });
      const ckpt = await loadCheckpoint(dir);
      assert.equal(ckpt.exitLayout, 'pabee');
      assert.deepEqual(ckpt.exitLayers, [0, 1]);
      const [h0, h1] = ckpt.weights.heads;
      assert.equal(h0!.pooler, h1!.pooler);
      assert.deepEqual(h0!.pooler.weight.data, values(weightsOf(tiny()), 'bert.pooler.dense.weight'));
      assert.equal(h0!.classifier.weight.data[5], 1);
      assert.equal(h1!.classifier.weight.data[5], 2);
      assert.deepEqual([...h1!.classifier.bias.data], [1, -1]);
    });

    it('loads a bare BertModel (no prefix, no classifier) with numLabels 0 and no heads', async () => {
      const dir = copyTiny();
      editTensors(dir, (t) =>
        Object.fromEntries(
          Object.entries(t)
            .filter(([k]) => k.startsWith('bert.') && !k.includes('highway'))
            .map(([k, v]) => [k.slice('bert.'.length), v]),
        ),
      );
      editConfig(dir, (c) => {
        c.architectures = ['BertModel'];
        delete c.early_exit_layers;
      });
      const ckpt = await loadCheckpoint(dir);
      assert.deepEqual(
        [ckpt.config.numLabels, ckpt.config.labels, ckpt.exitLayout, ckpt.exitLayers],
        [0, [], 'none', []],
      );
      assert.deepEqual(ckpt.weights.heads, [undefined, undefined]);
      assert.deepEqual(ckpt.unusedTensors, []); // BertModel's pooler is expected, not worth a warning
      assert.deepEqual(ckpt.weights.layers[1]!.key.bias.data, values(weightsOf(tiny()), MIDDLE));

      editConfig(dir, (c) => void delete c.architectures);
      const inferred = await loadCheckpoint(dir);
      assert.deepEqual([inferred.config.architecture, inferred.config.numLabels], ['BertModel', 0]);
    });

    it('has only the final head for a plain BertForSequenceClassification', async () => {
      const dir = join(root(), 'plain');
      await writeRandomCheckpoint(dir, { ...TINY, layers: 3, exits: false });
      const ckpt = await loadCheckpoint(dir);
      assert.deepEqual([ckpt.exitLayout, ckpt.exitLayers], ['none', [2]]);
      assert.deepEqual(ckpt.weights.heads.slice(0, 2), [undefined, undefined]);
    });

    it('ignores position_ids buffers but lists other unused tensors', async () => {
      const dir = copyTiny();
      editHeader(dir, (h, data) => {
        const ids = Buffer.alloc(64 * 8);
        for (let i = 0; i < 64; i++) ids.writeBigInt64LE(BigInt(i), i * 8);
        const extra = Buffer.alloc(120 * 4);
        h['bert.embeddings.position_ids'] = {
          dtype: 'I64',
          shape: [1, 64],
          data_offsets: [data.length, data.length + ids.length],
        };
        h['cls.predictions.bias'] = {
          dtype: 'F32',
          shape: [120],
          data_offsets: [data.length + ids.length, data.length + ids.length + extra.length],
        };
        return Buffer.concat([data, ids, extra]);
      });
      const ckpt = await loadCheckpoint(dir);
      assert.deepEqual(ckpt.unusedTensors, ['cls.predictions.bias']);
      assert.equal(ckpt.sourceDtype, 'F32');
    });

    it('requires an exit head for every layer config.json lists in early_exit_layers', async () => {
      const dir = join(root(), 'declared-exits');
      await writeRandomCheckpoint(dir, { ...TINY, exits: false });
      editConfig(dir, (c) => void (c.early_exit_layers = [0]));
      await expectLoadError(
        dir,
        MissingTensorError,
        weightsOf(dir),
        'bert.encoder.highway.0.classifier.weight',
        'early_exit_layers',
      );
    });
  });

  describe('writeRandomCheckpoint', () => {
    it('is deterministic for a seed and differs across seeds', async () => {
      const again = join(root(), 'again');
      const other = join(root(), 'other');
      await writeRandomCheckpoint(again, TINY);
      await writeRandomCheckpoint(other, { ...TINY, seed: 43 });
      for (const f of ['model.safetensors', 'config.json', 'vocab.txt', 'tokenizer_config.json']) {
        assert.ok(readFileSync(join(tiny(), f)).equals(readFileSync(join(again, f))), f);
      }
      assert.ok(!readFileSync(weightsOf(tiny())).equals(readFileSync(weightsOf(other))));
    });

    it('loads back with the configured shapes and HF-like initial values', async () => {
      const ckpt = await loadCheckpoint(tiny());
      const { config, weights } = ckpt;
      assert.deepEqual(
        [
          config.numLayers,
          config.hiddenSize,
          config.numHeads,
          config.intermediateSize,
          config.vocabSize,
          config.maxPositions,
        ],
        [2, 32, 4, 128, 120, 64],
      );
      assert.deepEqual(
        [ckpt.exitLayout, ckpt.exitLayers, config.labels, ckpt.sourceDtype],
        ['deebert', [0, 1], ['LABEL_0', 'LABEL_1'], 'F32'],
      );
      assert.deepEqual(weights.embeddings.word.shape, [120, 32]);
      assert.deepEqual(weights.embeddings.position.shape, [64, 32]);
      assert.deepEqual(weights.layers[1]!.intermediate.weight.shape, [128, 32]);
      assert.deepEqual(weights.layers[1]!.output.weight.shape, [32, 128]);
      assert.deepEqual(weights.heads[0]!.classifier.weight.shape, [2, 32]);

      const word = weights.embeddings.word.data;
      assert.ok(
        word.subarray(0, 32).every((v) => v === 0),
        '[PAD] row is zero',
      );
      const rest = word.subarray(32);
      const mean = rest.reduce((a, v) => a + v, 0) / rest.length;
      const std = Math.sqrt(rest.reduce((a, v) => a + (v - mean) ** 2, 0) / rest.length);
      assert.ok(Math.abs(mean) < 0.002 && Math.abs(std - 0.02) < 0.002, `mean ${mean} std ${std}`);
      const ln = weights.layers[0]!.attentionLayerNorm;
      assert.ok(ln.weight.data.every((v) => Math.abs(v - 1) < 0.15) && ln.weight.data.some((v) => v !== 1));
      assert.ok(weights.layers[0]!.query.bias.data.some((v) => v !== 0));
      const cfg = JSON.parse(readFileSync(join(tiny(), 'config.json'), 'utf8'));
      assert.deepEqual(
        [cfg.architectures, cfg.early_exit_layers, cfg.model_type],
        [['BertForSequenceClassification'], [0], 'bert'],
      );
    });

    it('stores F16 weights that equal the F32 weights rounded to half precision', async () => {
      const dir = join(root(), 'f16');
      await writeRandomCheckpoint(dir, { ...TINY, dtype: 'F16', hiddenAct: 'relu' });
      const [half, full] = await Promise.all([loadCheckpoint(dir), loadCheckpoint(tiny())]);
      assert.deepEqual([half.sourceDtype, half.config.hiddenAct], ['F16', 'relu']);
      const h = half.weights.layers[1]!.value.weight.data;
      const f = full.weights.layers[1]!.value.weight.data;
      for (let i = 0; i < f.length; i++) assert.equal(h[i], halfToFloat(floatToHalf(f[i]!)));
      assert.ok(h.some((v, i) => v !== f[i]));
    });

    it('writes a WordPiece vocab of exactly vocabSize lines with bert-base special ids, and do_lower_case', () => {
      const lines = readFileSync(join(tiny(), 'vocab.txt'), 'utf8').split('\n');
      assert.equal(lines.pop(), '');
      assert.equal(lines.length, 120);
      assert.deepEqual(
        [lines[0], lines[1], lines[100], lines[101], lines[102], lines[103], lines[104]],
        ['[PAD]', '[unused0]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a'],
      );
      assert.equal(JSON.parse(readFileSync(join(tiny(), 'tokenizer_config.json'), 'utf8')).do_lower_case, true);

      const full = buildSyntheticVocab(30522);
      assert.equal(new Set(full).size, 30522);
      assert.ok(full.includes('##z') && full.includes('!') && full.includes('movie') && full[30521] === 'tok30521');
      assert.deepEqual(buildSyntheticVocab(50).slice(0, 6), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a']);
      assert.deepEqual(buildSyntheticVocab(104).slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
      assert.throws(() => buildSyntheticVocab(4), RangeError);
    });

    it('rejects a hidden size not divisible by the head count', async () => {
      const dir = join(root(), 'bad-heads');
      await assert.rejects(
        writeRandomCheckpoint(dir, { layers: 1, hidden: 30, heads: 4 }),
        /hidden 30 is not divisible by heads 4/,
      );
      assert.ok(!existsSync(dir), 'nothing is written for invalid options');
    });
  });
});
