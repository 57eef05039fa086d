import { Packr } from 'msgpackr';

/**
 * Deterministic mutation of data-plane frames for the robustness tests: byte-level damage of the
 * encoded msgpack and field-level damage of the frame object before encoding. Everything random
 * comes from a seeded PRNG, so a failing run can be replayed frame by frame.
 */

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** A version-4-shaped id, drawn from this generator (not crypto: it must be reproducible). */
  uuid(): string {
    const h = this.bytes(16).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

type Obj = Record<string, unknown>;
interface RawTensor {
  dtype: unknown;
  shape: unknown;
  data: unknown;
}

/** A real frame to mutate, and the agents it is meant for (mutants go there most of the time). */
export interface FrameTemplate {
  name: string;
  frame: Obj;
  targets: string[];
}

export interface Mutant {
  bytes: Buffer;
  /** What was done to the template, e.g. "field:dtype" or "bytes:flip". */
  mutation: string;
  template: string;
  target: string;
}

// Same wire options as proto/frames.ts, but it packs anything: mutants are not Frames.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
export const packAny = (value: unknown): Buffer => packr.pack(value);

export function wireTensor(
  dtype: 'float32' | 'float16' | 'int64',
  shape: number[],
  values: Float32Array | BigInt64Array | Uint16Array,
): RawTensor {
  return { dtype, shape, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice() };
}

const isTensor = (v: unknown): v is RawTensor =>
  !!v && typeof v === 'object' && 'dtype' in v && 'shape' in v && 'data' in v;

function clone<T>(v: T): T {
  return structuredClone(v);
}

function tensorKeys(f: Obj): string[] {
  return Object.keys(f).filter((k) => isTensor(f[k]));
}

function numberKeys(f: Obj): string[] {
  return Object.keys(f).filter((k) => typeof f[k] === 'number');
}

function stringKeys(f: Obj): string[] {
  return Object.keys(f).filter((k) => typeof f[k] === 'string');
}

const BAD_NUMBERS = [-1, -0.5, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, -(2 ** 63), 1e308, -1e308];
const HUGE_SHAPES = [
  [1 << 20, 1 << 20],
  [2 ** 31, 256],
  [1e12],
  [Number.MAX_SAFE_INTEGER, 1],
  [1, 1 << 20, 1 << 20, 1 << 20],
  [1, 2, 3, 4, 5],
  [1 << 21],
  [-1, 10],
  [1.5, 2],
];
const DTYPES = ['float64', 'int32', 'bfloat16', 'uint8', '', 'FLOAT32', 7, null, 'float32', 'float16', 'int64'];

/** A msgpack value nested `depth` levels deep, as raw bytes (too deep to build as an object). */
function deepBytes(depth: number, map: boolean): Buffer {
  const level = map ? Buffer.from([0x81, 0xa1, 0x61]) : Buffer.from([0x91]);
  return Buffer.concat([Buffer.alloc(level.length * depth).fill(level), Buffer.from([0xc0])]);
}

const SENTINEL = 'zzDEEPzz';

function setInt64s(t: RawTensor, rng: Rng, values: bigint[]): void {
  const data = t.data as Uint8Array;
  const n = Math.floor(data.byteLength / 8);
  if (n === 0) return;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = 1 + rng.int(Math.min(n, 4));
  for (let i = 0; i < count; i++) view.setBigInt64(8 * rng.int(n), rng.pick(values), true);
}

function setFloats(t: RawTensor, rng: Rng, values: number[]): void {
  const data = t.data as Uint8Array;
  const n = Math.floor(data.byteLength / 4);
  if (n === 0) return;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = 1 + rng.int(Math.min(n, 16));
  for (let i = 0; i < count; i++) view.setFloat32(4 * rng.int(n), rng.pick(values), true);
}

/** A tensor whose shape and byte length agree, but whose size no real request has. */
function oversized(t: RawTensor, seq: number): RawTensor {
  const shape = t.shape as number[];
  const newShape = shape.length === 3 ? [1, seq, shape[2]!] : [1, seq];
  const bytesPer = t.dtype === 'int64' ? 8 : t.dtype === 'float16' ? 2 : 4;
  const numel = newShape.reduce((a, b) => a * b, 1);
  const data = new Uint8Array(numel * bytesPer);
  if (t.dtype === 'int64') {
    const view = new DataView(data.buffer);
    for (let i = 0; i < numel; i++) view.setBigInt64(i * 8, 1n + BigInt(i % 1000), true);
  }
  return { dtype: t.dtype, shape: newShape, data };
}

type FieldMutator = (f: Obj, rng: Rng, ctx: MutationContext) => Obj | Buffer | void;

export interface MutationContext {
  planVersion: number;
  vocabSize: number;
}

/** Field-level mutations: each changes the frame object (or returns raw bytes) in one way. */
const FIELD_MUTATORS: Record<string, FieldMutator> = {
  dtype(f, rng) {
    const keys = tensorKeys(f);
    if (keys.length) (f[rng.pick(keys)] as RawTensor).dtype = rng.pick(DTYPES);
  },
  'shape-vs-bytes'(f, rng) {
    const keys = tensorKeys(f);
    if (!keys.length) return;
    const t = f[rng.pick(keys)] as RawTensor;
    const shape = [...(t.shape as number[])];
    const i = rng.int(shape.length);
    switch (rng.int(5)) {
      case 0:
        shape[i] = shape[i]! + 1;
        break;
      case 1:
        shape[i] = Math.max(0, shape[i]! - 1);
        break;
      case 2:
        shape.push(1);
        break; // same numel, wrong rank
      case 3:
        shape.pop();
        break;
      default:
        shape.reverse(); // same numel, dims swapped
    }
    t.shape = shape;
  },
  'huge-dims'(f, rng) {
    const keys = tensorKeys(f);
    if (keys.length) (f[rng.pick(keys)] as RawTensor).shape = rng.pick(HUGE_SHAPES);
  },
  'zero-size'(f, rng) {
    const keys = tensorKeys(f);
    if (!keys.length) return;
    const t = f[rng.pick(keys)] as RawTensor;
    const shape = [...(t.shape as number[])];
    shape[rng.int(shape.length)] = 0;
    t.shape = shape;
    t.data = new Uint8Array(0); // consistent: 0 elements, 0 bytes
  },
  'oversized-consistent'(f, rng) {
    // Rare and a few MB each: see the weights in mutate().
    const seq = rng.pick([513, 1024, 2048, 4096]);
    for (const k of tensorKeys(f)) f[k] = oversized(f[k] as RawTensor, seq);
  },
  'bad-number'(f, rng) {
    const keys = numberKeys(f);
    if (keys.length) f[rng.pick(keys)] = rng.pick(BAD_NUMBERS);
  },
  'unknown-plan'(f, rng, ctx) {
    if ('planVersion' in f) f.planVersion = rng.pick([0, ctx.planVersion + 1, ctx.planVersion + 1000, 2 ** 32]);
  },
  'unknown-request'(f, rng) {
    if ('requestId' in f) f.requestId = `fuzz-${rng.uuid()}`;
  },
  'out-of-range-index'(f, rng) {
    if ('layer' in f) f.layer = rng.pick([0, 1, 6, 7, 99, 2 ** 31]);
    if ('stage' in f) f.stage = rng.pick([1, 2, 3, 99, 2 ** 31]);
    if ('exitLayer' in f) f.exitLayer = rng.pick([6, 99, 2 ** 31]);
  },
  'wrong-part'(f, rng) {
    f.part = rng.pick(['attn', 'FFN', '', 'attention ', 'ffn\u0000', 0, null, ['ffn'], { part: 'ffn' }]);
  },
  'token-ids'(f, rng, ctx) {
    const t = f.inputIds as RawTensor | undefined;
    if (!isTensor(t)) return;
    // ≥ vocab passes the frame check and must be refused by the model; negatives by the frame check.
    setInt64s(t, rng, [
      BigInt(ctx.vocabSize),
      BigInt(ctx.vocabSize + 1),
      2n ** 31n - 1n,
      2n ** 40n,
      -1n,
      -BigInt(ctx.vocabSize),
      -(2n ** 63n),
    ]);
  },
  'mask-values'(f, rng) {
    const t = f.attentionMask as RawTensor | undefined;
    if (!isTensor(t)) return;
    if (rng.chance(0.3))
      (t.data as Uint8Array).fill(0); // an all-padding mask is well-formed
    else setInt64s(t, rng, [2n, -1n, 2n ** 40n]);
  },
  'float-payload'(f, rng) {
    // NaN / Inf / huge activations: well-formed frames whose numbers are garbage.
    const keys = tensorKeys(f).filter((k) => (f[k] as RawTensor).dtype === 'float32');
    if (keys.length) setFloats(f[rng.pick(keys)] as RawTensor, rng, [NaN, Infinity, -Infinity, 3e38, -3e38]);
  },
  'extra-field'(f, rng) {
    const key = rng.pick(['__proto__', 'constructor', 'prototype', 'extra', 'x'.repeat(1000), 'type ']);
    f[key] = rng.pick<unknown>([1, 'x', { type: 'result' }, [1, 2, 3], null, { polluted: true }]);
  },
  'missing-field'(f, rng) {
    const keys = Object.keys(f);
    delete f[rng.pick(keys)];
  },
  'string-for-number'(f, rng) {
    const keys = numberKeys(f);
    if (keys.length) {
      const k = rng.pick(keys);
      f[k] = String(f[k]);
    } else {
      const t = tensorKeys(f);
      if (!t.length) return;
      const tensor = f[rng.pick(t)] as RawTensor;
      tensor.shape = (tensor.shape as number[]).map(String);
    }
  },
  'long-string'(f, rng) {
    const keys = [...stringKeys(f), 'requestId'];
    f[rng.pick(keys)] = 'x'.repeat(rng.pick([129, 4097, 65_536, 1_000_000]));
  },
  'wrong-container'(f, rng) {
    const keys = tensorKeys(f);
    const t = keys.length ? (f[rng.pick(keys)] as RawTensor) : undefined;
    switch (rng.int(4)) {
      case 0:
        if (t) t.data = Array.from((t.data as Uint8Array).subarray(0, 64));
        break;
      case 1:
        if (t) t.data = 'AAAA';
        break;
      case 2:
        if ('trace' in f) f.trace = { hops: [] };
        else f.logits = 'none';
        break;
      default:
        return Object.values(f) as unknown as Obj; // the frame as an array
    }
  },
  'deep-nesting'(f, rng) {
    const key = rng.pick(['hidden', 'trace', 'exitState', 'extra', 'logits', 'partial']);
    f[key] = SENTINEL;
    const bytes = packAny(f);
    const at = bytes.indexOf(Buffer.concat([Buffer.from([0xa0 | SENTINEL.length]), Buffer.from(SENTINEL)]));
    const nested = deepBytes(rng.pick([64, 1000, 100_000]), rng.chance(0.3));
    return Buffer.concat([bytes.subarray(0, at), nested, bytes.subarray(at + 1 + SENTINEL.length)]);
  },
  'type-swap'(f, rng) {
    f.type = rng.pick([
      'stage-input',
      'scatter',
      'partial',
      'result',
      'interim',
      'error',
      'stats-request',
      'stats',
      'hello',
      'challenge',
      'unknown',
      '',
      42,
    ]);
  },
  'exit-policy'(f, rng) {
    if (!('exitPolicy' in f) && !('exitThreshold' in f)) return;
    if ('exitPolicy' in f)
      f.exitPolicy = rng.pick([
        'max-prob=2',
        'max-prob=-1',
        'patience=-1',
        'patience=1e9',
        'dact=NaN',
        'entropy=abc',
        '',
        'none',
        'max-prob=0.5;rm -rf',
        '%s%s%n',
      ]);
    if ('exitThreshold' in f) f.exitThreshold = rng.pick([-0.1, 1.1, NaN, 0.5]);
    if ('exitState' in f) {
      f.exitState = rng.pick<unknown>([
        {},
        { count: NaN },
        { count: 1e308, last: 5 },
        { last: -1, count: -5 },
        { probs: new Array(5000).fill(0.5) },
        Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])),
        { probs: [1, 0, 0, 0, 0, 0, 0], mass: -1 },
        'state',
      ]);
    }
  },
  trace(f, rng) {
    const hop = { agent: 'agent-0', stage: 0, layersRun: 1, computeMs: 1, groupWaitMs: 0, members: [] as string[] };
    switch (rng.int(4)) {
      case 0:
        f.trace = new Array(257).fill(hop);
        break;
      case 1:
        f.trace = [{ ...hop, computeMs: -1 }];
        break;
      case 2:
        f.trace = [{ ...hop, members: new Array(65).fill('m') }];
        break;
      default:
        f.trace = new Array(255).fill(hop); // well-formed, one hop short of the limit
    }
  },
  logits(f, rng) {
    f.logits = rng.pick<unknown>([
      [],
      [NaN, 1],
      [Infinity],
      new Array(4097).fill(0),
      ['1', '2'],
      [1e308, -1e308],
      [0.1, 0.9],
    ]);
  },
};

/** Byte-level mutations of an encoded frame. */
function damageBytes(bytes: Buffer, rng: Rng): { bytes: Buffer; how: string } {
  const out = Buffer.from(bytes);
  switch (rng.int(4)) {
    case 0: {
      const flips = 1 + rng.int(8);
      for (let i = 0; i < flips; i++) out[rng.int(out.length)] ^= 1 + rng.int(255);
      return { bytes: out, how: 'flip' };
    }
    case 1:
      return { bytes: out.subarray(0, rng.int(out.length)), how: 'truncate' };
    case 2:
      return { bytes: Buffer.concat([out, rng.bytes(1 + rng.int(64))]), how: 'extend' };
    default: {
      const at = rng.int(out.length);
      rng.bytes(Math.min(out.length - at, 1 + rng.int(32))).copy(out, at);
      return { bytes: out, how: 'splice' };
    }
  }
}

const encodedTemplates = new WeakMap<FrameTemplate, Buffer>();
function encodedTemplate(t: FrameTemplate): Buffer {
  let bytes = encodedTemplates.get(t);
  if (!bytes) encodedTemplates.set(t, (bytes = packAny(t.frame)));
  return bytes;
}

/** Values that are valid msgpack but no frame. */
function nonFrame(rng: Rng): Buffer {
  return packAny(
    rng.pick<unknown>([
      42,
      'stage-input',
      null,
      [1, 2, 3],
      { type: 'stage-input' },
      { Type: 'result' },
      { type: ['scatter'] },
      new Uint8Array(16),
      { type: 'hello', role: 'coordinator', from: 'x', planVersion: 1, proof: '0'.repeat(64) },
      true,
      -1,
    ]),
  );
}

/**
 * One mutant: a template damaged at the field level (about 60%), at the byte level (about 30%, a
 * third of them after a field mutation too), or something that is no frame at all (about 10%).
 */
export function mutate(rng: Rng, templates: FrameTemplate[], agents: string[], ctx: MutationContext): Mutant {
  const template = rng.pick(templates);
  const target = rng.chance(0.75) ? rng.pick(template.targets) : rng.pick(agents);
  const roll = rng.next();
  if (roll < 0.05) return { bytes: rng.bytes(1 + rng.int(256)), mutation: 'random-bytes', template: '-', target };
  if (roll < 0.1) return { bytes: nonFrame(rng), mutation: 'msgpack-non-frame', template: '-', target };
  const fieldNames = Object.keys(FIELD_MUTATORS).filter((n) => n !== 'oversized-consistent');
  const original = encodedTemplate(template);
  const applyField = (): { bytes: Buffer; name: string } => {
    // A mutator that does not apply to this template (no tensor to damage, say) leaves it intact:
    // draw another, so every mutant really differs from its template.
    for (;;) {
      // Oversized-but-consistent tensors cost megabytes to build and send: about 1 mutant in 140.
      const name = rng.chance(0.01) ? 'oversized-consistent' : rng.pick(fieldNames);
      const f = clone(template.frame);
      const value = FIELD_MUTATORS[name]!(f, rng, ctx) ?? f;
      const bytes = Buffer.isBuffer(value) ? value : packAny(value);
      if (!bytes.equals(original)) return { bytes, name };
    }
  };
  if (roll < 0.7) {
    const { bytes, name } = applyField();
    return { bytes, mutation: `field:${name}`, template: template.name, target };
  }
  const base = rng.chance(0.33) ? applyField() : { bytes: original, name: '' };
  const { bytes, how } = damageBytes(base.bytes, rng);
  return {
    bytes,
    mutation: base.name ? `field:${base.name}+bytes:${how}` : `bytes:${how}`,
    template: template.name,
    target,
  };
}
