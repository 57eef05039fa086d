import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  floatToHalf,
  halfToFloat,
  loadCheckpoint,
  readSafetensors,
  writeRandomCheckpoint,
  writeSafetensors,
  type SafetensorsFile,
  type SafetensorsWriteTensor,
} from '../coordinator/checkpoint/index.js';
import { evaluate } from '../coordinator/calibration/index.js';
import { ConvertOverwriteError, DtypeRangeError, convertCheckpoint } from '../coordinator/checkpoint/index.js';
import { FIXTURE_DIR, modelCardDevFigures } from './helpers/fixture.js';
import { edgerelay } from './helpers/cli.js';

const MODEL_DIR = path.resolve(process.cwd(), 'models/sst2-bert-6L-256H');
const TOKENIZER_FILES = ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'];

/** Largest rounding error of a round-to-nearest conversion: half an ulp, relative for normals, absolute below. */
const PRECISION = {
  F16: { relative: 2 ** -11, subnormalUlp: 2 ** -24 },
  BF16: { relative: 2 ** -8, subnormalUlp: 2 ** -133 },
} as const;

function assertWithinPrecision(original: SafetensorsFile, converted: SafetensorsFile, dtype: 'F16' | 'BF16'): void {
  const { relative, subnormalUlp } = PRECISION[dtype];
  for (const name of original.names()) {
    const a = original.float32(name);
    const b = converted.float32(name);
    assert.equal(b.length, a.length, name);
    for (let i = 0; i < a.length; i++) {
      const err = Math.abs(a[i]! - b[i]!);
      if (err > Math.max(Math.abs(a[i]!) * relative, subnormalUlp / 2)) {
        assert.fail(`${name}[${i}]: ${a[i]} became ${b[i]}, off by more than half a ${dtype} ulp`);
      }
    }
  }
}

function assertSameLayout(original: SafetensorsFile, converted: SafetensorsFile, dtype: string): void {
  assert.deepEqual(converted.names(), original.names());
  for (const name of original.names()) {
    assert.deepEqual(converted.info(name).shape, original.info(name).shape, name);
    assert.equal(converted.info(name).dtype, dtype, name);
  }
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

describe('the bundled float16 demo model (models/sst2-bert-6L-256H)', () => {
  it('loads as F16 with the fixture exits, and only torch_dtype differs in its config', async () => {
    const [f16, f32] = await Promise.all([loadCheckpoint(MODEL_DIR), loadCheckpoint(FIXTURE_DIR)]);
    assert.equal(f16.sourceDtype, 'F16');
    assert.equal(f32.sourceDtype, 'F32');
    assert.deepEqual(f16.exitLayers, f32.exitLayers);
    assert.deepEqual(f16.config, f32.config);
    assert.deepEqual(readJson(path.join(MODEL_DIR, 'config.json')), {
      ...readJson(path.join(FIXTURE_DIR, 'config.json')),
      torch_dtype: 'float16',
    });
    for (const file of [...TOKENIZER_FILES, 'dev.tsv']) {
      assert.equal(sha256(path.join(MODEL_DIR, file)), sha256(path.join(FIXTURE_DIR, file)), file);
    }
  });

  it('stores every fixture tensor, in the same order and shape, rounded to the nearest half', () => {
    const f32 = readSafetensors(path.join(FIXTURE_DIR, 'model.safetensors'));
    const f16 = readSafetensors(path.join(MODEL_DIR, 'model.safetensors'));
    assertSameLayout(f32, f16, 'F16');
    assert.deepEqual(f16.metadata, { ...f32.metadata, converted_by: 'edgerelay', source_dtype: 'F32' });

    // Whole tensors bit for bit against our own rounding, covering embeddings, weights, biases and LayerNorm.
    for (const name of [
      'bert.embeddings.word_embeddings.weight',
      'bert.embeddings.LayerNorm.weight',
      'bert.encoder.layer.3.attention.self.query.weight',
      'bert.encoder.layer.5.output.dense.bias',
      'bert.encoder.highway.0.classifier.weight',
      'classifier.bias',
    ]) {
      const source = f32.float32(name);
      const raw = f16.bytes(name);
      const stored = f16.float32(name);
      for (let i = 0; i < source.length; i++) {
        const expected = floatToHalf(source[i]!);
        const bits = raw[2 * i]! | (raw[2 * i + 1]! << 8);
        if (bits !== expected)
          assert.fail(
            `${name}[${i}]: stored half 0x${bits.toString(16)}, expected 0x${expected.toString(16)} for ${source[i]}`,
          );
        if (stored[i] !== halfToFloat(expected))
          assert.fail(`${name}[${i}] decodes to ${stored[i]}, not ${halfToFloat(expected)}`);
      }
    }
    assertWithinPrecision(f32, f16, 'F16');
  });

  it('keeps every exit within 0.5 point of the model card accuracy and agreement on dev.tsv', async () => {
    const card = modelCardDevFigures();
    const result = await evaluate({ model: MODEL_DIR, data: path.join(MODEL_DIR, 'dev.tsv') });
    assert.equal(result.examples, 436);
    assert.deepEqual(
      result.exits.map((e) => e.layer),
      card.map((c) => c.layer),
    );
    for (const [i, c] of card.entries()) {
      const e = result.exits[i]!;
      assert.ok(
        Math.abs(e.accuracy - c.accuracy) <= 0.005,
        `exit ${c.layer}: accuracy ${e.accuracy} vs card ${c.accuracy}`,
      );
      assert.ok(
        Math.abs(e.agreement - c.agreement) <= 0.005,
        `exit ${c.layer}: agreement ${e.agreement} vs card ${c.agreement}`,
      );
    }
  });
});

interface RawEntry {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A safetensors file written byte by byte, for dtypes writeSafetensors cannot produce. */
function writeRawSafetensors(file: string, entries: RawEntry[], metadata: Record<string, string>): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.length] };
    offset += e.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([prefix, json, ...entries.map((e) => e.bytes)]));
}

describe('convertCheckpoint', () => {
  let work: string;
  let src: string;
  const srcWeights = () => readSafetensors(path.join(src, 'model.safetensors'));

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'edgerelay-convert-'));
    src = path.join(work, 'src');
    await writeRandomCheckpoint(src, {
      layers: 2,
      hidden: 32,
      heads: 4,
      intermediate: 64,
      vocabSize: 120,
      maxPositions: 64,
      exits: true,
      seed: 3,
    });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const [dtype, torch] of [
    ['F16', 'float16'],
    ['BF16', 'bfloat16'],
  ] as const) {
    it(`writes a ${torch} copy that loads back with the same tensors within ${torch} precision`, async () => {
      const out = path.join(work, `to-${torch}`);
      const result = await convertCheckpoint(src, out, dtype === 'F16' ? 'f16' : 'bf16');
      assert.equal(result.sourceDtype, 'F32');
      assert.deepEqual(result.dropped, []);

      const checkpoint = await loadCheckpoint(out);
      assert.equal(checkpoint.sourceDtype, dtype);
      assert.deepEqual(checkpoint.exitLayers, [0, 1]);
      const original = srcWeights();
      const converted = readSafetensors(path.join(out, 'model.safetensors'));
      assertSameLayout(original, converted, dtype);
      assertWithinPrecision(original, converted, dtype);
      assert.deepEqual(converted.metadata, { format: 'pt', converted_by: 'edgerelay', source_dtype: 'F32' });

      assert.deepEqual(readJson(path.join(out, 'config.json')), {
        ...readJson(path.join(src, 'config.json')),
        torch_dtype: torch,
      });
      for (const file of TOKENIZER_FILES)
        assert.equal(sha256(path.join(out, file)), sha256(path.join(src, file)), file);
      assert.deepEqual(result.copied, ['config.json', ...TOKENIZER_FILES]);
    });
  }

  it('widens float16 back to float32 without changing a single value', async () => {
    const half = path.join(work, 'half');
    const full = path.join(work, 'full');
    await convertCheckpoint(src, half, 'f16');
    const result = await convertCheckpoint(half, full, 'f32');
    assert.equal(result.sourceDtype, 'F16');
    const a = readSafetensors(path.join(half, 'model.safetensors'));
    const b = readSafetensors(path.join(full, 'model.safetensors'));
    assertSameLayout(a, b, 'F32');
    for (const name of a.names()) assert.deepEqual(b.float32(name), a.float32(name), name);
    assert.equal(readJson(path.join(full, 'config.json')).torch_dtype, 'float32');
    assert.equal(b.metadata.source_dtype, 'F16');
  });

  it('refuses to write into the source directory, however it is spelled, and leaves it untouched', async () => {
    const before = sha256(path.join(src, 'model.safetensors'));
    const link = path.join(work, 'link-to-src');
    symlinkSync(src, link);
    for (const out of [src, `${src}/`, path.join(src, '..', 'src'), link]) {
      await assert.rejects(convertCheckpoint(src, out, 'f16'), (err: unknown) => {
        assert.ok(err instanceof ConvertOverwriteError, `${out}: ${String(err)}`);
        assert.match(err.message, /source directory/);
        return true;
      });
    }
    assert.equal(sha256(path.join(src, 'model.safetensors')), before);
    assert.equal(readJson(path.join(src, 'config.json')).torch_dtype, 'float32');
  });

  it('leaves out integer tensors such as position_ids and reports them', async () => {
    const withIds = path.join(work, 'with-position-ids');
    await writeRandomCheckpoint(withIds, { layers: 1, hidden: 16, heads: 2, vocabSize: 60, maxPositions: 8, seed: 5 });
    const file = readSafetensors(path.join(withIds, 'model.safetensors'));
    const entries: RawEntry[] = file
      .names()
      .map((name) => ({ name, dtype: 'F32', shape: file.info(name).shape, bytes: file.bytes(name) }));
    const ids = new Uint8Array(BigInt64Array.from({ length: 8 }, (_, i) => BigInt(i)).buffer);
    entries.splice(1, 0, { name: 'bert.embeddings.position_ids', dtype: 'I64', shape: [1, 8], bytes: ids });
    writeRawSafetensors(path.join(withIds, 'model.safetensors'), entries, file.metadata as Record<string, string>);

    const out = path.join(work, 'without-position-ids');
    const result = await convertCheckpoint(withIds, out, 'f16');
    assert.deepEqual(result.dropped, [{ name: 'bert.embeddings.position_ids', dtype: 'I64' }]);
    assert.deepEqual(readSafetensors(path.join(out, 'model.safetensors')).names(), file.names());
    assert.equal((await loadCheckpoint(out)).sourceDtype, 'F16');
  });

  it('refuses a weight too large for float16 without writing weights, but bfloat16 takes it', async () => {
    const big = path.join(work, 'big-weight');
    await writeRandomCheckpoint(big, { layers: 1, hidden: 16, heads: 2, vocabSize: 60, maxPositions: 8, seed: 6 });
    const file = readSafetensors(path.join(big, 'model.safetensors'));
    const tensors: Record<string, SafetensorsWriteTensor> = {};
    for (const name of file.names()) tensors[name] = { shape: file.info(name).shape, data: file.float32(name).slice() };
    (tensors['classifier.bias']!.data as Float32Array)[1] = -70000;
    writeSafetensors(path.join(big, 'model.safetensors'), tensors, { dtype: 'F32', metadata: { format: 'pt' } });

    const out = path.join(work, 'big-f16');
    await assert.rejects(convertCheckpoint(big, out, 'f16'), (err: unknown) => {
      assert.ok(err instanceof DtypeRangeError, String(err));
      assert.equal(err.tensor, 'classifier.bias');
      assert.equal(err.value, -70000);
      return true;
    });
    assert.equal(existsSync(path.join(out, 'model.safetensors')), false);

    await convertCheckpoint(big, path.join(work, 'big-bf16'), 'bf16');
    assert.equal(
      readSafetensors(path.join(work, 'big-bf16', 'model.safetensors')).float32('classifier.bias')[1],
      -70144,
    ); // nearest bfloat16
  });
});

describe('edgerelay convert', () => {
  let work: string;
  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'edgerelay-convert-cli-'));
    await writeRandomCheckpoint(path.join(work, 'src'), {
      layers: 1,
      hidden: 16,
      heads: 2,
      vocabSize: 60,
      maxPositions: 8,
    });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('writes a bfloat16 copy and says where', async () => {
    const { stdout, stderr, code } = await edgerelay([
      'convert',
      '--model',
      path.join(work, 'src'),
      '--out',
      path.join(work, 'out'),
      '--dtype',
      'bf16',
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /as bfloat16 \(from F32\)/);
    assert.equal((await loadCheckpoint(path.join(work, 'out'))).sourceDtype, 'BF16');
  });

  it('explains, without a stack trace, why it will not convert a directory onto itself', async () => {
    const dir = path.join(work, 'src');
    const { stderr, code } = await edgerelay(['convert', '--model', dir, '--out', dir, '--dtype', 'f16']);
    assert.equal(code, 1);
    assert.match(stderr, /is the source directory/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

  it('rejects a dtype it cannot write', async () => {
    const { stderr, code } = await edgerelay([
      'convert',
      '--model',
      path.join(work, 'src'),
      '--out',
      path.join(work, 'x'),
      '--dtype',
      'fp8',
    ]);
    assert.notEqual(code, 0);
    assert.match(stderr, /f16, bf16, f32, int8/);
  });
});
