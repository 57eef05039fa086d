import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SafetensorsFormatError,
  UnsupportedDtypeError,
  floatToHalf,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  writeSafetensors,
} from '../coordinator/checkpoint/index.js';
import { findDuplicateKey } from '../coordinator/checkpoint/safetensors.js';

/** Build a safetensors file by hand, independently of the writer under test. */
function rawSafetensors(header: string, data: Uint8Array): Buffer {
  const padded = header + ' '.repeat((8 - (Buffer.byteLength(header) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(padded)));
  return Buffer.concat([len, Buffer.from(padded), data]);
}

function f32(values: number[]): Float32Array {
  return Float32Array.from(values);
}

describe('half precision conversion', () => {
  it('decodes known binary16 bit patterns, including subnormals, infinities and signed zero', () => {
    assert.equal(halfToFloat(0x3c00), 1);
    assert.equal(halfToFloat(0xc000), -2);
    assert.equal(halfToFloat(0x3555), 0.333251953125);
    assert.equal(halfToFloat(0x7bff), 65504);
    assert.equal(halfToFloat(0x0400), 2 ** -14); // smallest normal
    assert.equal(halfToFloat(0x0001), 2 ** -24); // smallest subnormal
    assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24); // largest subnormal
    assert.equal(halfToFloat(0x7c00), Infinity);
    assert.equal(halfToFloat(0xfc00), -Infinity);
    assert.ok(Object.is(halfToFloat(0x8000), -0));
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
    assert.ok(Number.isNaN(halfToFloat(0x7c01)));
  });

  it('encodes every non-NaN half value back to its own bit pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = halfToFloat(h);
      if (Number.isNaN(v)) assert.ok(Number.isNaN(halfToFloat(floatToHalf(v))), `NaN ${h.toString(16)}`);
      else assert.equal(floatToHalf(v), h, `bits 0x${h.toString(16)} (${v})`);
    }
  });

  it('rounds to nearest with ties to even, overflowing to infinity and underflowing to zero', () => {
    assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // tie between 1 and 1+2^-10: even mantissa (1) wins
    assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // tie between odd 0x3c01 and even 0x3c02
    assert.equal(floatToHalf(1 + 2 ** -11 + 2 ** -20), 0x3c01); // just above the tie rounds up
    assert.equal(floatToHalf(65519), 0x7bff);
    assert.equal(floatToHalf(65520), 0x7c00); // tie between 65504 and 65536 (= inf) rounds to even: inf
    assert.equal(floatToHalf(1e6), 0x7c00);
    assert.equal(floatToHalf(-1e6), 0xfc00);
    assert.equal(floatToHalf(2 ** -25), 0x0000); // exactly half the smallest subnormal: ties to even (0)
    assert.equal(floatToHalf(1.5 * 2 ** -25), 0x0001);
    assert.equal(floatToHalf(3 * 2 ** -25), 0x0002); // tie between subnormals 1 and 2 goes to 2
    assert.equal(floatToHalf(1e-10), 0x0000);
    assert.equal(floatToHalf(-1e-10), 0x8000);
    assert.equal(floatToHalf(2 ** -14 - 2 ** -25), 0x0400); // largest subnormal + half ulp carries into the smallest normal
  });
});

describe('writeSafetensors / readSafetensors', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgerelay-st-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const specials = [0, -0, 1, -1, 0.1, -2.5e-8, 3.4e38, -3.4e38, 1e-40, Infinity, -Infinity];

  it('round-trips F32 exactly, with a standard 8-byte-aligned layout and metadata', () => {
    const path = join(dir, 'f32.safetensors');
    const a = f32(specials);
    const b = f32([1, 2, 3, 4, 5, 6]);
    writeSafetensors(
      path,
      { a: { shape: [11], data: a }, 'm.weight': { shape: [2, 3], data: b } },
      { dtype: 'F32', metadata: { format: 'pt' } },
    );

    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    assert.deepEqual(header, {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [11], data_offsets: [0, 44] },
      'm.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [44, 68] },
    });
    assert.equal(bytes.length, 8 + n + 68);
    assert.equal(bytes.readFloatLE(8 + n + 44 + 4 * 5), 6);

    const file = readSafetensors(path);
    assert.deepEqual(file.names(), ['a', 'm.weight']);
    assert.deepEqual(file.metadata, { format: 'pt' });
    assert.deepEqual(file.tensor('m.weight'), { shape: [2, 3], data: b });
    assert.deepEqual([...file.float32('a')], [...a]);
    assert.ok(Object.is(file.float32('a')[1], -0));
  });

  it('round-trips F16: exact for representable values (including subnormals and ±inf), within half an ulp otherwise', () => {
    const path = join(dir, 'f16.safetensors');
    const exact = f32([
      0,
      1,
      -2,
      0.5,
      65504,
      -65504,
      2 ** -14,
      2 ** -24,
      5 * 2 ** -24,
      1023 * 2 ** -24,
      Infinity,
      -Infinity,
      0.333251953125,
    ]);
    const random = new Float32Array(1000);
    for (let i = 0; i < random.length; i++) random[i] = (Math.sin(i * 12.9898) * 43758.5453) % 8;
    writeSafetensors(
      path,
      { exact: { shape: [exact.length], data: exact }, random: { shape: [10, 100], data: random } },
      { dtype: 'F16' },
    );

    const file = readSafetensors(path);
    assert.equal(file.info('random').dtype, 'F16');
    assert.deepEqual(file.info('random').dataOffsets, [exact.length * 2, exact.length * 2 + 2000]);
    assert.deepEqual([...file.float32('exact')], [...exact]);
    const back = file.float32('random');
    for (let i = 0; i < random.length; i++) {
      const v = random[i]!;
      const ulp = Math.abs(v) < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(Math.abs(v))) - 10);
      assert.ok(Math.abs(back[i]! - v) <= ulp / 2, `${v} -> ${back[i]}`);
    }
    assert.ok(
      random.some((v, i) => back[i] !== v),
      'random values should not all be exactly representable',
    );
  });

  it('round-trips BF16: exact for representable values, round-to-nearest-even otherwise, NaN stays NaN', () => {
    const path = join(dir, 'bf16.safetensors');
    const exact = f32([0, 1, -1.5, 0.15625, 2 ** -130, 3.3895313892515355e38, Infinity, -Infinity]);
    const rounding = f32([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, NaN]);
    writeSafetensors(
      path,
      { exact: { shape: [8], data: exact }, rounding: { shape: [4], data: rounding } },
      { dtype: 'BF16' },
    );

    const file = readSafetensors(path);
    assert.deepEqual([...file.float32('exact')], [...exact]);
    const r = file.float32('rounding');
    assert.equal(r[0], 1); // tie goes to even mantissa
    assert.equal(r[1], 1 + 2 ** -6); // tie from odd goes up to even
    assert.equal(r[2], 1 + 2 ** -7);
    assert.ok(Number.isNaN(r[3]));
  });

  it('produces each tensor lazily from a function, in record order', () => {
    const path = join(dir, 'lazy.safetensors');
    const calls: string[] = [];
    writeSafetensors(
      path,
      {
        x: { shape: [2], data: () => (calls.push('x'), f32([1, 2])) },
        y: { shape: [1], data: () => (calls.push('y'), f32([3])) },
      },
      { dtype: 'F32' },
    );
    assert.deepEqual(calls, ['x', 'y']);
    assert.deepEqual([...readSafetensors(path).float32('y')], [3]);
  });

  it('refuses data whose length does not match the shape, leaving no file behind', () => {
    const path = join(dir, 'bad.safetensors');
    assert.throws(
      () => writeSafetensors(path, { x: { shape: [3], data: f32([1, 2]) } }, { dtype: 'F32' }),
      /x.*2 values.*\[3\]/,
    );
    assert.throws(() => readFileSync(path), /ENOENT/);
  });

  it('converts F64 to float32 and reads unaligned F32 data correctly', () => {
    const data = Buffer.alloc(8 * 2 + 2 + 4);
    data.writeDoubleLE(0.1, 0);
    data.writeDoubleLE(-7, 8);
    data.writeUInt16LE(0x3c00, 16); // F16 1.0, pushes the next tensor to an odd 2-byte offset
    data.writeFloatLE(1.25, 18);
    const header = JSON.stringify({
      d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
      h: { dtype: 'F16', shape: [1], data_offsets: [16, 18] },
      s: { dtype: 'F32', shape: [1], data_offsets: [18, 22] },
    });
    const file = parseSafetensors(rawSafetensors(header, data), 'mem.safetensors');
    assert.deepEqual([...file.float32('d')], [Math.fround(0.1), -7]);
    assert.deepEqual([...file.float32('h')], [1]);
    assert.deepEqual([...file.float32('s')], [1.25]);
  });

  it('accepts integer tensors in the file but refuses to convert them to float32', () => {
    const data = Buffer.alloc(16);
    data.writeBigInt64LE(5n, 0);
    const header = JSON.stringify({ ids: { dtype: 'I64', shape: [1, 2], data_offsets: [0, 16] } });
    const file = parseSafetensors(rawSafetensors(header, data), 'ints.safetensors');
    assert.equal(file.bytes('ids').length, 16);
    assert.throws(
      () => file.float32('ids'),
      (e: unknown) =>
        e instanceof UnsupportedDtypeError &&
        /ints\.safetensors/.test(e.message) &&
        /"ids"/.test(e.message) &&
        /I64/.test(e.message),
    );
  });

  it('rejects a file shorter than the 8-byte length prefix', () => {
    assert.throws(
      () => parseSafetensors(new Uint8Array(5), 'tiny.safetensors'),
      (e: unknown) => e instanceof SafetensorsFormatError && /tiny\.safetensors.*5 bytes/.test(e.message),
    );
  });

  it('rejects data left over after the last tensor', () => {
    const header = JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
    assert.throws(
      () => parseSafetensors(rawSafetensors(header, new Uint8Array(12)), 'extra.safetensors'),
      (e: unknown) =>
        e instanceof SafetensorsFormatError &&
        /"a" ends at byte 4/.test(e.message) &&
        /8 unexplained bytes/.test(e.message),
    );
  });

  it('rejects non-string __metadata__ values and malformed entries', () => {
    const bad = [
      [JSON.stringify({ __metadata__: { n: 1 } }), /__metadata__/],
      [JSON.stringify({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /"a" has no valid "shape"/],
      [JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }), /"a" has no valid "data_offsets"/],
      [JSON.stringify({ a: [1, 2] }), /entry for tensor "a"/],
      ['[1, 2]', /not a JSON object/],
    ] as const;
    for (const [header, re] of bad) {
      assert.throws(
        () => parseSafetensors(rawSafetensors(header, new Uint8Array(0)), 'x.safetensors'),
        (e: unknown) => e instanceof SafetensorsFormatError && re.test(e.message),
      );
    }
  });

  it('finds duplicate keys that JSON.parse would silently merge, at any depth and through escapes', () => {
    assert.deepEqual(findDuplicateKey('{"a":1,"b":{"a":2},"a":3}'), { key: 'a' });
    assert.deepEqual(findDuplicateKey('{"t":{"dtype":"F32","dtype":"F16"}}'), { key: 'dtype', within: 't' });
    assert.deepEqual(findDuplicateKey('{"ab":1, "a\\u0062" :2}'), { key: 'ab' });
    assert.equal(findDuplicateKey('{"a":["a","a"],"b":"a","c":{"a":1},"d":{"a":1}}'), undefined);
    assert.equal(findDuplicateKey('{"x\\"y":1,"x":2}'), undefined);
  });

  it('reads a header written without padding', () => {
    const len = Buffer.alloc(8);
    const header = Buffer.from('{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}');
    len.writeBigUInt64LE(BigInt(header.length));
    const data = Buffer.alloc(4);
    data.writeFloatLE(2.5);
    const path = join(dir, 'unpadded.safetensors');
    writeFileSync(path, Buffer.concat([len, header, data]));
    assert.deepEqual(readSafetensors(path).tensor('a'), { shape: [], data: f32([2.5]) });
  });
});
