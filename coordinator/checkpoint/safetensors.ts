/**
 * Reader and writer for the safetensors format (https://huggingface.co/docs/safetensors):
 * 8-byte little-endian header length N, N bytes of JSON header, then the raw tensor data.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Tensor } from './types.js';
import { DTYPE_SIZES, FLOAT_DTYPES, decodeFloat32, encodeFloat32, type WritableDtype } from './dtype.js';
import { MissingTensorError, SafetensorsFormatError, UnsupportedDtypeError } from './errors.js';

/** Same cap as the reference implementation: a larger header is a corrupt or hostile file. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

export interface SafetensorsTensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** [begin, end) relative to the start of the data section, as in the header. */
  dataOffsets: [number, number];
}

/**
 * A parsed safetensors file. Tensor bytes stay in the single file buffer; `bytes` returns views,
 * and `float32` returns a view for aligned F32 data (so do not mutate it) or a converted copy.
 */
export class SafetensorsFile {
  /** Tensors in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  private readonly dataStart: number;

  constructor(
    readonly path: string,
    private readonly buffer: Uint8Array,
    readonly metadata: Readonly<Record<string, string>>,
    tensors: Map<string, SafetensorsTensorInfo>,
    headerLength: number,
  ) {
    this.tensors = tensors;
    this.dataStart = 8 + headerLength;
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.tensors.get(name);
    if (!info) {
      throw new MissingTensorError(`Tensor "${name}" is not in ${this.path}.`, { file: this.path, tensor: name });
    }
    return info;
  }

  /** Raw little-endian bytes of a tensor (a view into the file buffer). */
  bytes(name: string): Uint8Array {
    const [begin, end] = this.info(name).dataOffsets;
    return this.buffer.subarray(this.dataStart + begin, this.dataStart + end);
  }

  /** Tensor values as float32, converting F16/BF16/F64; any other dtype is an UnsupportedDtypeError. */
  float32(name: string): Float32Array {
    const info = this.info(name);
    const data = decodeFloat32(this.bytes(name), info.dtype);
    if (!data) {
      throw new UnsupportedDtypeError(
        `Tensor "${name}" in ${this.path} has dtype ${info.dtype}, but edgerelay needs floating-point weights ` +
          `(${FLOAT_DTYPES.join(', ')}). Re-export the model with float32, float16 or bfloat16 weights.`,
        { file: this.path, tensor: name, dtype: info.dtype },
      );
    }
    return data;
  }

  tensor(name: string): Tensor {
    return { shape: [...this.info(name).shape], data: this.float32(name) };
  }
}

/** Read and validate a safetensors file (the whole file is read into one buffer). */
export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(readFileSync(path), path);
}

/** Validate and index safetensors bytes; `path` is only used in error messages. */
export function parseSafetensors(bytes: Uint8Array, path: string): SafetensorsFile {
  const fail = (why: string, tensor?: string): SafetensorsFormatError =>
    new SafetensorsFormatError(
      `${path} is not a valid safetensors file: ${why}`,
      tensor === undefined ? { file: path } : { file: path, tensor },
    );

  if (bytes.length < 8) {
    throw fail(`it is ${bytes.length} bytes long, shorter than the 8-byte header length prefix (truncated download?).`);
  }
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) {
    throw fail(
      `the header length prefix says ${headerLength} bytes but only ${bytes.length - 8} bytes follow it ` +
        `(file truncated, or not a safetensors file).`,
    );
  }
  if (headerLength > MAX_HEADER_BYTES)
    throw fail(`the header is ${headerLength} bytes, more than the ${MAX_HEADER_BYTES}-byte limit.`);

  let text: string;
  let header: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw fail('the header is not valid UTF-8.');
  }
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw fail(`the header is not valid JSON (${(e as Error).message}).`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw fail('the header is not a JSON object.');

  // JSON.parse keeps only the last of duplicate keys, which would silently hide a tensor.
  const dup = findDuplicateKey(text);
  if (dup) {
    const where = dup.within === undefined ? 'tensor name' : `key in the entry for "${dup.within}"`;
    throw fail(`duplicate ${where} "${dup.key}" in the header.`, dup.within ?? dup.key);
  }

  const dataLength = bytes.length - 8 - headerLength;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(value, fail);
      continue;
    }
    const info = parseEntry(name, value, fail, path);
    const [begin, end] = info.dataOffsets;
    if (end > dataLength) {
      throw fail(
        `tensor "${name}" has data_offsets [${begin}, ${end}] but the data section is only ${dataLength} bytes ` +
          `(file truncated?).`,
        name,
      );
    }
    tensors.set(name, info);
  }
  checkContiguous([...tensors.values()], dataLength, fail);
  return new SafetensorsFile(path, bytes, metadata, tensors, headerLength);
}

type Fail = (why: string, tensor?: string) => SafetensorsFormatError;

function parseMetadata(value: unknown, fail: Fail): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fail(`"${METADATA_KEY}" is not an object.`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw fail(`"${METADATA_KEY}" value for "${k}" is not a string.`);
  }
  return value as Record<string, string>;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseEntry(name: string, value: unknown, fail: Fail, path: string): SafetensorsTensorInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail(`the entry for tensor "${name}" is not an object with dtype, shape and data_offsets.`, name);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw fail(`tensor "${name}" has no string "dtype".`, name);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fail(`tensor "${name}" has no valid "shape" (an array of non-negative integers).`, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw fail(
      `tensor "${name}" has no valid "data_offsets" (two non-negative integers [begin, end], begin <= end).`,
      name,
    );
  }
  const size = DTYPE_SIZES[dtype];
  if (size === undefined) {
    throw new UnsupportedDtypeError(
      `Tensor "${name}" in ${path} has unknown dtype "${dtype}" (known: ${Object.keys(DTYPE_SIZES).join(', ')}). ` +
        `Re-export the model with float32, float16 or bfloat16 weights.`,
      { file: path, tensor: name, dtype },
    );
  }
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const expectedBytes = numel * size;
  const [begin, end] = offsets as [number, number];
  if (!Number.isSafeInteger(expectedBytes) || end - begin !== expectedBytes) {
    throw fail(
      `tensor "${name}" (${dtype}, shape [${(shape as number[]).join(', ')}]) needs ${expectedBytes} bytes ` +
        `but its data_offsets [${begin}, ${end}] span ${end - begin} bytes.`,
      name,
    );
  }
  return { name, dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

/** Tensors must tile the data section exactly: no overlaps, no gaps, nothing left over. */
function checkContiguous(infos: SafetensorsTensorInfo[], dataLength: number, fail: Fail): void {
  const sorted = [...infos].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let pos = 0;
  let prev: SafetensorsTensorInfo | undefined;
  for (const info of sorted) {
    const [begin, end] = info.dataOffsets;
    if (begin !== pos) {
      const after = prev ? `tensor "${prev.name}" ends at byte ${pos}` : 'the data section starts at byte 0';
      const what = begin < pos ? 'overlaps the previous tensor' : `leaves a gap of ${begin - pos} bytes`;
      throw fail(`tensor "${info.name}" starts at byte ${begin} but ${after}: it ${what}.`, info.name);
    }
    pos = end;
    prev = info;
  }
  if (pos !== dataLength) {
    const last = prev ? `the last tensor "${prev.name}" ends at byte ${pos}` : 'there are no tensors';
    throw fail(
      `the data section is ${dataLength} bytes but ${last}; ${dataLength - pos} unexplained bytes follow.`,
      prev?.name,
    );
  }
}

/** Find a key repeated within one JSON object of (already validated) JSON text. */
export function findDuplicateKey(text: string): { key: string; within?: string } | undefined {
  const stack: (Set<string> | null)[] = []; // a Set of seen keys per open object, null per open array
  let topKey: string | undefined;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const raw = text.slice(i, j + 1);
      i = j + 1;
      const keys = stack[stack.length - 1];
      if (!keys) continue;
      let k = i;
      while (text[k] === ' ' || text[k] === '\t' || text[k] === '\n' || text[k] === '\r') k++;
      if (text[k] !== ':') continue; // a string value, not a key
      const key = JSON.parse(raw) as string; // decodes escapes so "a" and "\u0061" collide
      if (keys.has(key)) return stack.length === 1 ? { key } : { key, within: topKey! };
      keys.add(key);
      if (stack.length === 1) topKey = key;
      continue;
    }
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    i++;
  }
  return undefined;
}

export interface SafetensorsWriteTensor {
  shape: number[];
  /** The values, or a function producing them just before they are written (keeps peak memory to one tensor). */
  data: Float32Array | (() => Float32Array);
  /** This tensor's dtype when it differs from the file's (F32 scales beside int8 weights, say). */
  dtype?: WritableDtype;
}

/** An int8 tensor (quantized linear weights), written as its bytes. */
export interface SafetensorsInt8Tensor {
  shape: number[];
  dtype: 'I8';
  data: Int8Array;
}

export interface WriteSafetensorsOptions {
  dtype: WritableDtype;
  metadata?: Record<string, string>;
}

/**
 * Write tensors (in the record's order) as a standard safetensors file, converting to `dtype`.
 * Written to a temporary file first and renamed, so a failure never leaves a half-written file at `path`.
 */
export function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsWriteTensor | SafetensorsInt8Tensor>,
  options: WriteSafetensorsOptions,
): void {
  const dtypeOf = (t: SafetensorsWriteTensor | SafetensorsInt8Tensor) => t.dtype ?? options.dtype;
  for (const dtype of new Set([options.dtype, ...Object.values(tensors).map(dtypeOf)])) {
    if (!['F32', 'F16', 'BF16', 'I8'].includes(dtype)) throw new Error(`writeSafetensors: unsupported dtype ${dtype}`);
  }
  const header: Record<string, unknown> = {};
  if (options.metadata) header[METADATA_KEY] = { ...options.metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === METADATA_KEY)
      throw new Error(`writeSafetensors: "${METADATA_KEY}" is reserved and cannot be a tensor name`);
    if (!t.shape.every((d) => isCount(d)))
      throw new Error(`writeSafetensors: tensor "${name}" has an invalid shape [${t.shape.join(', ')}]`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[dtypeOf(t)]!;
    header[name] = { dtype: dtypeOf(t), shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned (8-byte prefix + header length multiple of 8).
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const headerBuf = Buffer.alloc(8 + Buffer.byteLength(json, 'utf8'));
  headerBuf.writeBigUInt64LE(BigInt(headerBuf.length - 8), 0);
  headerBuf.write(json, 8, 'utf8');

  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, headerBuf);
    for (const [name, t] of Object.entries(tensors)) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (data.length !== numel) {
        throw new Error(
          `writeSafetensors: tensor "${name}" has ${data.length} values but shape [${t.shape.join(', ')}] needs ${numel}`,
        );
      }
      if (t.dtype === 'I8') writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      else writeAll(fd, encodeFloat32(data as Float32Array, dtypeOf(t) as WritableDtype));
    }
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
