import { createHash, randomBytes, type Hash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type pino from 'pino';
import { EdgeRelayError } from '@edgerelay/proto';

/** A shard's bytes do not match the sha256 or size the coordinator announced, or its chunks arrived out of line. */
export class ShardIntegrityError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_SHARD_INTEGRITY';
}

/** A cache key that is not a sha256 hex digest; refused because keys become file names. */
export class InvalidShardKeyError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_INVALID_SHARD_KEY';
}

const KEY = /^[0-9a-f]{64}$/;
const SUFFIX = '.onnx';
const TEMP_SUFFIX = '.tmp';

/** Throws unless `sha256` is 64 lowercase hex characters, so it can never name a path outside the cache. */
export function assertShardKey(sha256: string): void {
  if (typeof sha256 !== 'string' || !KEY.test(sha256)) {
    const shown = typeof sha256 === 'string' ? JSON.stringify(sha256.slice(0, 80)) : typeof sha256;
    throw new InvalidShardKeyError(
      `shard key ${shown} is not a sha256 digest; pass 64 lowercase hex characters as the coordinator's plan gives them`,
    );
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function short(sha256: string): string {
  return sha256.slice(0, 12);
}

export interface ShardCacheOptions {
  /** Told when get() finds a file whose bytes no longer match its name (the file is then deleted). */
  onCorrupt?: (sha256: string, actualSha256: string) => void;
  /** Warned about every corrupt file: a disk that rots shards should not be repaired in silence. */
  logger?: pino.Logger;
}

/**
 * Compiled ONNX shards on disk, one file per sha256, so an agent that restarts does not download them again.
 * Every read is verified: an SD card that flipped a bit yields a miss, never a wrong model.
 */
export class ShardCache {
  /** Corrupt files found (and deleted) by get() since this cache was opened. */
  corruptions = 0;

  constructor(
    readonly dir: string,
    private readonly options: ShardCacheOptions = {},
  ) {
    mkdirSync(dir, { recursive: true });
    // A crash between write and rename leaves a temp file nobody will finish; one agent owns a cache dir.
    for (const name of readdirSync(dir)) {
      if (name.endsWith(TEMP_SUFFIX)) rmSync(path.join(dir, name), { force: true });
    }
  }

  private file(sha256: string): string {
    assertShardKey(sha256);
    return path.join(this.dir, sha256 + SUFFIX);
  }

  /** Keys of the cached shards, sorted. */
  list(): string[] {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith(SUFFIX) && KEY.test(name.slice(0, -SUFFIX.length)))
      .map((name) => name.slice(0, -SUFFIX.length))
      .sort();
  }

  /** Whether a file for the key exists; get() still verifies it. */
  has(sha256: string): boolean {
    try {
      return statSync(this.file(sha256)).isFile();
    } catch (err) {
      if (err instanceof InvalidShardKeyError) throw err;
      return false;
    }
  }

  /** The shard's bytes, or undefined when absent or corrupt (a corrupt file is deleted so it is fetched again). */
  get(sha256: string): Uint8Array | undefined {
    const file = this.file(sha256);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const actual = sha256Hex(bytes);
    if (actual !== sha256) {
      rmSync(file, { force: true });
      this.corruptions++;
      this.options.logger?.warn(
        { file, expectedSha256: sha256, actualSha256: actual, bytes: bytes.byteLength },
        `cached shard ${file} is corrupt (sha256 ${actual}, expected ${sha256}); deleted it, it will be downloaded again. ` +
          'Repeated corruption points at a failing disk or SD card',
      );
      this.options.onCorrupt?.(sha256, actual);
      return undefined;
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Stores verified bytes; readers see either no file or the whole shard, even across a power cut. */
  put(sha256: string, bytes: Uint8Array): void {
    const file = this.file(sha256);
    const actual = sha256Hex(bytes);
    if (actual !== sha256) {
      throw new ShardIntegrityError(
        `shard ${short(sha256)}: refusing to cache bytes whose sha256 is ${actual}, expected ${sha256}; download the shard again`,
      );
    }
    const temp = path.join(this.dir, `${sha256}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
    try {
      const fd = openSync(temp, 'wx');
      try {
        let written = 0;
        while (written < bytes.byteLength) written += writeSync(fd, bytes, written);
        // Without fsync a rename can reach the disk before the data, leaving a short file after a power cut.
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, file);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }

  remove(sha256: string): void {
    rmSync(this.file(sha256), { force: true });
  }

  /** Disk space the cached shards take. */
  totalBytes(): number {
    let total = 0;
    for (const key of this.list()) {
      try {
        total += statSync(this.file(key)).size;
      } catch {
        // Removed since list(): it takes no space.
      }
    }
    return total;
  }
}

/**
 * Collects a shard that arrives as FetchShard chunks, checking each against the announced size as it comes,
 * and hashing incrementally so finish() does not read the whole shard again.
 * A rejected chunk leaves the assembler unchanged: the download can resume from `received`.
 */
export class ShardAssembler {
  private readonly buffer: Uint8Array;
  private readonly hash: Hash = createHash('sha256');
  private offset = 0;
  private finished = false;

  constructor(
    readonly expectedSha256: string,
    readonly totalBytes: number,
    readonly maxBytes: number,
  ) {
    assertShardKey(expectedSha256);
    if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) {
      throw new ShardIntegrityError(
        `shard ${short(expectedSha256)}: announced size ${totalBytes} is not a byte count; the coordinator's plan is malformed`,
      );
    }
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be a non-negative number, got ${maxBytes}`);
    if (totalBytes > maxBytes) {
      throw new ShardIntegrityError(
        `shard ${short(expectedSha256)} is ${totalBytes} bytes, above this agent's limit of ${maxBytes}; ` +
          "raise the agent's shard size limit or split the model into more stages",
      );
    }
    this.buffer = new Uint8Array(totalBytes);
  }

  /** Bytes accepted so far: the offset the next chunk must start at. */
  get received(): number {
    return this.offset;
  }

  add(offset: number, chunk: Uint8Array): void {
    const name = `shard ${short(this.expectedSha256)}`;
    if (this.finished)
      throw new ShardIntegrityError(`${name}: chunk arrived after the shard was finished; start a new download`);
    if (offset !== this.offset) {
      throw new ShardIntegrityError(
        `${name}: chunk at offset ${offset} arrived, but the next byte expected is ${this.offset} ` +
          `(chunks must be contiguous and in order); request the shard again from offset ${this.offset}`,
      );
    }
    const end = offset + chunk.byteLength;
    if (end > this.totalBytes) {
      throw new ShardIntegrityError(
        `${name}: chunk of ${chunk.byteLength} bytes at offset ${offset} runs past the announced size of ${this.totalBytes} bytes; ` +
          'the coordinator sent more than it announced, download the shard again',
      );
    }
    this.buffer.set(chunk, offset);
    this.hash.update(chunk);
    this.offset = end;
  }

  /** The complete, verified shard. */
  finish(): Uint8Array {
    const name = `shard ${short(this.expectedSha256)}`;
    if (this.finished) throw new ShardIntegrityError(`${name}: finish() was already called; start a new download`);
    if (this.offset !== this.totalBytes) {
      throw new ShardIntegrityError(
        `${name}: download ended after ${this.offset} of ${this.totalBytes} bytes; request the shard again from offset ${this.offset}`,
      );
    }
    this.finished = true;
    const actual = this.hash.digest('hex');
    if (actual !== this.expectedSha256) {
      throw new ShardIntegrityError(
        `${name}: downloaded bytes have sha256 ${actual}, expected ${this.expectedSha256}; download the shard again`,
      );
    }
    return this.buffer;
  }
}
