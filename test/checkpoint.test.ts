import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path, { join } from 'node:path';
import {
  CheckpointNotFoundError,
  MissingTensorError,
  SafetensorsFormatError,
  TensorShapeError,
  UnsupportedDtypeError,
  loadCheckpoint,
} from '../coordinator/checkpoint/index.js';
import { tinyCheckpointCases, readRaw, writeRaw, values, MIDDLE } from './helpers/checkpoint-cases.js';

const FIXTURE = path.resolve(process.cwd(), '../shared/fixtures/sst2-bert-6L-256H');

describe('checkpoint loading', () => {
  const { root, tiny, copyTiny, weightsOf, editHeader, editTensors, editConfig, expectLoadError } =
    tinyCheckpointCases();

  describe('the trained sst2-bert-6L-256H fixture', () => {
    before(function () {
      // The fixture lives in ../shared beside the repository, as it does in CI: its absence is a setup error, not a skip.
      assert.ok(existsSync(FIXTURE), `missing fixture ${FIXTURE}: clone edgerelay next to the shared/ folder`);
    });

    it('loads as a 6-layer, 256-hidden DeeBERT classifier with exits after every layer', async () => {
      const ckpt = await loadCheckpoint(FIXTURE);
      assert.equal(ckpt.config.numLayers, 6);
      assert.equal(ckpt.config.hiddenSize, 256);
      assert.equal(ckpt.config.numHeads, 4);
      assert.equal(ckpt.config.intermediateSize, 1024);
      assert.equal(ckpt.config.maxPositions, 128);
      assert.equal(ckpt.config.vocabSize, 30522);
      assert.equal(ckpt.exitLayout, 'deebert');
      assert.deepEqual(ckpt.exitLayers, [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(ckpt.config.labels, ['negative', 'positive']);
      assert.equal(ckpt.config.numLabels, 2);
      assert.equal(ckpt.sourceDtype, 'F32');
      assert.deepEqual(ckpt.unusedTensors, []);
      assert.equal(ckpt.dir, FIXTURE);
    });

    it('gives tensor values equal to the raw little-endian floats in model.safetensors', async () => {
      const ckpt = await loadCheckpoint(FIXTURE);
      const file = join(FIXTURE, 'model.safetensors');
      const query = values(file, 'bert.encoder.layer.2.attention.self.query.weight');
      const got = ckpt.weights.layers[2]!.query.weight;
      assert.deepEqual(got.shape, [256, 256]);
      for (const i of [0, 1, 257, 40000, 65535]) assert.equal(got.data[i], query[i]);
      assert.notEqual(query[0], query[1]);
      assert.deepEqual(
        ckpt.weights.heads[3]!.classifier.bias.data,
        values(file, 'bert.encoder.highway.3.classifier.bias'),
      );
      assert.deepEqual(ckpt.weights.heads[5]!.classifier.weight.data, values(file, 'classifier.weight'));
      assert.deepEqual(ckpt.weights.heads[5]!.pooler.bias.data, values(file, 'bert.pooler.dense.bias'));
      const word = ckpt.weights.embeddings.word;
      assert.equal(word.data[101 * 256 + 7], values(file, 'bert.embeddings.word_embeddings.weight')[101 * 256 + 7]);
    });
  });

  describe('broken checkpoints name the file and the tensor', () => {
    it('a truncated model.safetensors', async () => {
      const dir = copyTiny();
      const buf = readFileSync(weightsOf(dir));
      const { header, data } = readRaw(weightsOf(dir));
      const cutDataLength = data.length - 100;
      const victim = Object.keys(header).find(
        (k) => k !== '__metadata__' && header[k]!.data_offsets[1] > cutDataLength,
      )!;
      assert.equal(victim, 'classifier.weight');
      writeFileSync(weightsOf(dir), buf.subarray(0, buf.length - 100));
      await expectLoadError(dir, SafetensorsFormatError, weightsOf(dir), `"${victim}"`, 'truncated');
    });

    it('offsets that overlap the previous tensor', async () => {
      const dir = copyTiny();
      editHeader(
        dir,
        (h) => void (h[MIDDLE]!.data_offsets = h[MIDDLE]!.data_offsets.map((o) => o - 4) as [number, number]),
      );
      await expectLoadError(dir, SafetensorsFormatError, weightsOf(dir), MIDDLE, 'overlaps');
    });

    it('offsets that leave a gap', async () => {
      const dir = copyTiny();
      editHeader(
        dir,
        (h) => void (h[MIDDLE]!.data_offsets = h[MIDDLE]!.data_offsets.map((o) => o + 4) as [number, number]),
      );
      await expectLoadError(dir, SafetensorsFormatError, weightsOf(dir), MIDDLE, 'gap of 4 bytes');
    });

    it('offsets past the end of the file', async () => {
      const dir = copyTiny();
      editHeader(dir, (h, data) => void (h[MIDDLE]!.data_offsets = [data.length, data.length + 128]));
      await expectLoadError(dir, SafetensorsFormatError, weightsOf(dir), MIDDLE, 'data section is only', 'truncated');
    });

    it('a byte size that does not match shape × dtype size', async () => {
      const dir = copyTiny();
      editHeader(dir, (h) => void (h[MIDDLE]!.shape = [31]));
      await expectLoadError(dir, SafetensorsFormatError, weightsOf(dir), MIDDLE, 'needs 124 bytes', 'span 128 bytes');
    });

    it('a tensor name that appears twice in the header', async () => {
      const dir = copyTiny();
      const { header, data } = readRaw(weightsOf(dir));
      const dup = 'bert.pooler.dense.bias';
      const text = `${JSON.stringify(header).slice(0, -1)},${JSON.stringify(dup)}:${JSON.stringify(header[dup])}}`;
      assert.equal(Object.keys(JSON.parse(text)).length, Object.keys(header).length); // JSON.parse alone would not notice
      writeRaw(weightsOf(dir), text, data);
      await expectLoadError(dir, SafetensorsFormatError, weightsOf(dir), dup, 'duplicate');
    });

    it('a required tensor that is missing', async () => {
      const dir = copyTiny();
      editTensors(dir, (t) => void delete t[MIDDLE]);
      await expectLoadError(dir, MissingTensorError, weightsOf(dir), MIDDLE);
    });

    it('a tensor whose shape does not match config.json', async () => {
      const dir = copyTiny();
      const name = 'bert.encoder.layer.0.intermediate.dense.weight';
      editTensors(dir, (t) => void (t[name] = { shape: [128, 16], data: new Float32Array(128 * 16) }));
      await assert.rejects(loadCheckpoint(dir), (err: unknown) => {
        assert.ok(err instanceof TensorShapeError);
        assert.deepEqual(
          [err.expected, err.actual, err.tensor, err.file],
          [[128, 32], [128, 16], name, weightsOf(dir)],
        );
        for (const m of [weightsOf(dir), name, '[128, 16]', '[128, 32]'])
          assert.ok(err.message.includes(m), err.message);
        return true;
      });
    });

    it('a config.json whose vocab_size disagrees with the word embeddings', async () => {
      const dir = copyTiny();
      editConfig(dir, (c) => void (c.vocab_size = 121));
      await expectLoadError(
        dir,
        TensorShapeError,
        weightsOf(dir),
        'bert.embeddings.word_embeddings.weight',
        '[121, 32]',
        '[120, 32]',
      );
    });

    it('an unknown dtype', async () => {
      const dir = copyTiny();
      editHeader(dir, (h) => void (h[MIDDLE]!.dtype = 'F8_E9'));
      await expectLoadError(dir, UnsupportedDtypeError, weightsOf(dir), MIDDLE, 'F8_E9');
    });

    it('a required tensor stored as integers', async () => {
      const dir = copyTiny();
      editHeader(dir, (h) => void (h[MIDDLE]!.dtype = 'I32'));
      await expectLoadError(dir, UnsupportedDtypeError, weightsOf(dir), MIDDLE, 'I32');
    });

    it('a header length larger than the file', async () => {
      const dir = copyTiny();
      const buf = readFileSync(weightsOf(dir));
      buf.writeBigUInt64LE(BigInt(buf.length), 0);
      writeFileSync(weightsOf(dir), buf);
      await expectLoadError(dir, SafetensorsFormatError, weightsOf(dir), 'header length');
    });

    it('a header that is not JSON', async () => {
      const dir = copyTiny();
      writeRaw(weightsOf(dir), '{"bert.embeddings.word_embeddings.weight": {', readRaw(weightsOf(dir)).data);
      await expectLoadError(dir, SafetensorsFormatError, weightsOf(dir), 'not valid JSON');
    });
  });

  describe('missing files', () => {
    it('says what a model directory must contain when the directory does not exist', async () => {
      await expectLoadError(
        join(root(), 'nope'),
        CheckpointNotFoundError,
        join(root(), 'nope'),
        'config.json',
        'model.safetensors',
      );
    });

    it('reports a missing config.json or model.safetensors, with a hint for pytorch_model.bin', async () => {
      const noConfig = copyTiny();
      rmSync(join(noConfig, 'config.json'));
      await expectLoadError(noConfig, CheckpointNotFoundError, join(noConfig), 'no config.json');
      const noWeights = copyTiny();
      rmSync(weightsOf(noWeights));
      writeFileSync(join(noWeights, 'pytorch_model.bin'), '');
      await expectLoadError(
        noWeights,
        CheckpointNotFoundError,
        'no model.safetensors',
        'pytorch_model.bin',
        'safe_serialization',
      );
    });

    it('rejects a file passed instead of a directory', async () => {
      await expectLoadError(weightsOf(tiny()), CheckpointNotFoundError, 'not a directory');
    });
  });
});
