import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EdgeRelayError } from '../proto/errors.js';
import { InvalidShardKeyError, ShardAssembler, ShardCache, ShardIntegrityError } from '../device-agent/shard-cache.js';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

describe('ShardCache', function () {
  let dir: string;
  beforeEach(() => {
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'edgerelay-cache-')), 'nested', 'shards');
  });
  afterEach(() => rmSync(path.dirname(path.dirname(dir)), { recursive: true, force: true }));

  it('creates its directory and starts empty', function () {
    const cache = new ShardCache(dir);
    assert.ok(existsSync(dir));
    assert.deepEqual(cache.list(), []);
    assert.equal(cache.totalBytes(), 0);
  });

  it('returns what was put, and lists and counts it', function () {
    const cache = new ShardCache(dir);
    const a = randomBytes(1000);
    const b = randomBytes(3000);
    cache.put(sha(a), a);
    cache.put(sha(b), b);
    assert.ok(cache.has(sha(a)) && cache.has(sha(b)));
    assert.ok(same(cache.get(sha(a)), a));
    assert.ok(same(cache.get(sha(b)), b));
    assert.ok(cache.get(sha(b)) instanceof Uint8Array);
    assert.deepEqual(cache.list(), [sha(a), sha(b)].sort());
    assert.equal(cache.totalBytes(), 4000);

    cache.remove(sha(a));
    assert.equal(cache.has(sha(a)), false);
    assert.equal(cache.get(sha(a)), undefined);
    assert.deepEqual(cache.list(), [sha(b)]);
    cache.remove(sha(a)); // removing an absent shard is not an error
  });

  it('reports a shard that was never stored as missing', function () {
    const cache = new ShardCache(dir);
    const key = sha(Buffer.from('never stored'));
    assert.equal(cache.has(key), false);
    assert.equal(cache.get(key), undefined);
  });

  it('keeps shards across a restart (a new instance on the same directory)', function () {
    const bytes = randomBytes(5000);
    new ShardCache(dir).put(sha(bytes), bytes);
    const restarted = new ShardCache(dir);
    assert.deepEqual(restarted.list(), [sha(bytes)]);
    assert.ok(same(restarted.get(sha(bytes)), bytes));
  });

  it('detects a shard corrupted on disk, deletes it and reports a miss', function () {
    const reported: string[] = [];
    const cache = new ShardCache(dir, { onCorrupt: (key) => reported.push(key) });
    const bytes = randomBytes(2048);
    const key = sha(bytes);
    cache.put(key, bytes);
    const file = readdirSync(dir).find((f) => f.startsWith(key))!;
    const flipped = Buffer.from(bytes);
    flipped[100]! ^= 0x01;
    writeFileSync(path.join(dir, file), flipped);

    assert.equal(cache.get(key), undefined);
    assert.equal(cache.has(key), false);
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(reported, [key]);
  });

  it('refuses to put bytes whose hash differs from the key, naming both, and writes nothing', function () {
    const cache = new ShardCache(dir);
    const bytes = randomBytes(100);
    const wrong = sha(Buffer.from('something else'));
    assert.throws(
      () => cache.put(wrong, bytes),
      (err: unknown) =>
        err instanceof ShardIntegrityError &&
        err instanceof EdgeRelayError &&
        err.message.includes(wrong) &&
        err.message.includes(sha(bytes)),
    );
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(cache.has(wrong), false);
  });

  it('rejects keys that are not 64 lowercase hex characters, so none can escape the directory', function () {
    const cache = new ShardCache(dir);
    const good = sha(Buffer.from('x'));
    const bad = [
      '../x',
      `../${good}`,
      good.toUpperCase(),
      good.slice(0, 63),
      `${good}0`,
      `${good.slice(0, 63)}g`,
      '',
      `${good}/`,
    ];
    for (const key of bad) {
      assert.throws(() => cache.has(key), InvalidShardKeyError, key);
      assert.throws(() => cache.get(key), InvalidShardKeyError, key);
      assert.throws(() => cache.put(key, Buffer.from('x')), InvalidShardKeyError, key);
      assert.throws(() => cache.remove(key), InvalidShardKeyError, key);
    }
  });

  it('ignores stray files in its directory and clears temp files a crash left behind', function () {
    const bytes = randomBytes(10);
    new ShardCache(dir).put(sha(bytes), bytes);
    writeFileSync(path.join(dir, 'notes.txt'), 'hi');
    writeFileSync(path.join(dir, `${sha(bytes)}.123.abcd.tmp`), 'half');
    const cache = new ShardCache(dir);
    assert.deepEqual(cache.list(), [sha(bytes)]);
    assert.equal(cache.totalBytes(), 10);
    assert.deepEqual(readdirSync(dir).sort(), [`${sha(bytes)}.onnx`, 'notes.txt']);
  });
});

describe('ShardAssembler', function () {
  const bytes = randomBytes(10_000);
  const key = sha(bytes);
  const chunks = (size: number) => {
    const out: [number, Uint8Array][] = [];
    for (let o = 0; o < bytes.length; o += size) out.push([o, bytes.subarray(o, o + size)]);
    return out;
  };
  const integrityError =
    (...fragments: string[]) =>
    (err: unknown) =>
      err instanceof ShardIntegrityError && fragments.every((f) => (err as Error).message.includes(f));

  it('assembles in-order chunks into the verified shard', function () {
    const asm = new ShardAssembler(key, bytes.length, 1 << 20);
    for (const [offset, chunk] of chunks(3000)) asm.add(offset, chunk);
    assert.equal(asm.received, bytes.length);
    assert.ok(same(asm.finish(), bytes));
  });

  it('accepts an empty shard', function () {
    const empty = new Uint8Array(0);
    assert.equal(new ShardAssembler(sha(empty), 0, 10).finish().byteLength, 0);
  });

  it('rejects an out-of-order chunk and can resume from where it stopped', function () {
    const asm = new ShardAssembler(key, bytes.length, 1 << 20);
    const [c0, c1, c2] = chunks(4000);
    asm.add(...c0!);
    assert.throws(() => asm.add(...c2!), integrityError('offset 8000', 'expected is 4000', 'from offset 4000'));
    assert.throws(() => asm.add(...c0!), integrityError('offset 0'));
    assert.equal(asm.received, 4000);
    asm.add(...c1!);
    asm.add(...c2!);
    assert.ok(same(asm.finish(), bytes));
  });

  it('rejects a gap between chunks', function () {
    const asm = new ShardAssembler(key, bytes.length, 1 << 20);
    asm.add(0, bytes.subarray(0, 100));
    assert.throws(() => asm.add(101, bytes.subarray(101, 200)), integrityError('offset 101', 'expected is 100'));
  });

  it('rejects a chunk that runs past the announced size', function () {
    const asm = new ShardAssembler(key, bytes.length, 1 << 20);
    asm.add(0, bytes.subarray(0, 9000));
    assert.throws(() => asm.add(9000, randomBytes(1001)), integrityError('past the announced size of 10000'));
  });

  it('rejects a download that ends early', function () {
    const asm = new ShardAssembler(key, bytes.length, 1 << 20);
    asm.add(0, bytes.subarray(0, 9999));
    assert.throws(() => asm.finish(), integrityError('9999 of 10000'));
  });

  it('rejects bytes whose sha256 differs, naming expected and actual', function () {
    const tampered = Buffer.from(bytes);
    tampered[5000]! ^= 0xff;
    const asm = new ShardAssembler(key, bytes.length, 1 << 20);
    asm.add(0, tampered);
    assert.throws(() => asm.finish(), integrityError(key, sha(tampered)));
  });

  it('refuses an announced size above the limit before receiving anything', function () {
    assert.throws(
      () => new ShardAssembler(key, bytes.length, bytes.length - 1),
      integrityError('10000 bytes', 'limit of 9999'),
    );
    assert.throws(() => new ShardAssembler(key, -1, 100), ShardIntegrityError);
    assert.throws(() => new ShardAssembler(key, 1.5, 100), ShardIntegrityError);
  });

  it('refuses an expected hash that is not a sha256 key', function () {
    assert.throws(() => new ShardAssembler(key.toUpperCase(), 10, 100), InvalidShardKeyError);
  });
});
