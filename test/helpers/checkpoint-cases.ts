import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadCheckpoint,
  readSafetensors,
  writeRandomCheckpoint,
  writeSafetensors,
  type SafetensorsWriteTensor,
} from '../../coordinator/checkpoint/index.js';

/** A tiny random BERT with exits, the checkpoint the loading tests copy and break. */
export const TINY = {
  layers: 2,
  hidden: 32,
  heads: 4,
  vocabSize: 120,
  maxPositions: 64,
  exits: true,
  seed: 42,
} as const;

export type HeaderEntry = { dtype: string; shape: number[]; data_offsets: [number, number] };
export type Header = Record<string, HeaderEntry>;

/** Parse a safetensors file by hand, so tests do not trust the reader under test. */
export function readRaw(file: string): { header: Header; data: Buffer } {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Header, data: buf.subarray(8 + n) };
}

export function writeRaw(file: string, header: Header | string, data: Uint8Array): void {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  writeFileSync(file, Buffer.concat([len, Buffer.from(text), data]));
}

export function values(file: string, name: string): Float32Array {
  const { header, data } = readRaw(file);
  const [b, e] = header[name]!.data_offsets;
  const out = new Float32Array((e - b) / 4);
  for (let i = 0; i < out.length; i++) out[i] = data.readFloatLE(b + 4 * i);
  return out;
}

/** A tensor in the middle of the tiny checkpoint, for breaking one and checking the error names it. */
export const MIDDLE = 'bert.encoder.layer.1.attention.self.key.bias';

/**
 * Copies of the tiny checkpoint to break, one directory each, and the edits that break them. Call inside a describe:
 * it writes the checkpoint before the tests and removes every copy after them.
 */
export function tinyCheckpointCases() {
  let root = '';
  let tiny = '';
  let cases = 0;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'edgerelay-ckpt-'));
    tiny = join(root, 'tiny');
    await writeRandomCheckpoint(tiny, TINY);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const weightsOf = (dir: string) => join(dir, 'model.safetensors');
  return {
    /** The scratch directory (removed after the tests). */
    root: () => root,
    /** The pristine tiny checkpoint: read it, never edit it. */
    tiny: () => tiny,
    copyTiny: (): string => {
      const dir = join(root, `case${cases++}`);
      cpSync(tiny, dir, { recursive: true });
      return dir;
    },
    weightsOf,
    editHeader: (dir: string, edit: (h: Header, data: Buffer) => Buffer | void) => {
      const { header, data } = readRaw(weightsOf(dir));
      writeRaw(weightsOf(dir), header, edit(header, data) ?? data);
    },
    /** Rewrite the weights through the (separately tested) reader and writer, editing the tensor set. */
    editTensors: (
      dir: string,
      edit: (t: Record<string, SafetensorsWriteTensor>) => Record<string, SafetensorsWriteTensor> | void,
    ) => {
      const file = readSafetensors(weightsOf(dir));
      const tensors: Record<string, SafetensorsWriteTensor> = {};
      for (const name of file.names())
        tensors[name] = { shape: [...file.info(name).shape], data: Float32Array.from(file.float32(name)) };
      writeSafetensors(weightsOf(dir), edit(tensors) ?? tensors, { dtype: 'F32' });
    },
    editConfig: (dir: string, edit: (c: Record<string, unknown>) => void) => {
      const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      edit(c);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    },
    expectLoadError: async (dir: string, cls: abstract new (...args: never[]) => Error, ...mentions: string[]) => {
      await assert.rejects(loadCheckpoint(dir), (err: unknown) => {
        assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
        for (const m of mentions) assert.ok(err.message.includes(m), `message should mention "${m}":\n${err.message}`);
        return true;
      });
    },
  };
}
