/**
 * int8 weights vs float32 (docs/int8.md): a bert-base-shaped model (hidden 768, 12 heads, FFN 3072; fewer
 * layers than bert-base's 12 to keep the cached checkpoint small, each layer is identical in cost), converted
 * with `edgerelay convert --dtype int8`. For 32 and 128 tokens and 1 and 2 threads: the latency of one layer
 * shard and of the whole model (embeddings, layers, classifier), float32 and int8 timed interleaved round by
 * round, the per-round ratio's median and spread, and shard bytes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { convertCheckpoint, loadCheckpoint, writeRandomCheckpoint } from '../coordinator/checkpoint/index.js';
import type { Checkpoint } from '../coordinator/checkpoint/types.js';
import { compileShard, IO, type ShardSpec } from '../coordinator/compiler/index.js';
import { ShardSession, int64Tensor, type HostTensor } from '../device-agent/runtime/index.js';
import { busyWarning, machineLoad, pairedRatio } from './busy.js';
import { interleaved, median } from './stats.js';

export interface Int8BenchArgs {
  rounds: number;
  layers: number;
  json?: boolean;
}

const CACHE = path.resolve('.bench-cache');
/** The target: int8 at least this much faster than float32, 1 thread, 128 tokens, whole model. */
const TARGET = 2.5;

/** A random bert-base-shaped checkpoint with `layers` layers and its int8 conversion, written once. */
async function models(layers: number): Promise<{ float: string; int8: string }> {
  const float = path.join(CACHE, `bert-base-shape-${layers}L`);
  const int8 = `${float}-int8`;
  if (!existsSync(path.join(float, 'model.safetensors'))) {
    process.stderr.write(`writing a random bert-base-shaped ${layers}-layer checkpoint to ${float} (once)\n`);
    await writeRandomCheckpoint(float, { layers, hidden: 768, heads: 12, seed: 42 });
  }
  if (!existsSync(path.join(int8, 'model.safetensors'))) await convertCheckpoint(float, int8, 'int8');
  return { float, int8 };
}

interface Row {
  part: 'layer' | 'model';
  seqLen: number;
  threads: number;
  floatMs: number;
  int8Ms: number;
  /** float32 / int8 per round: median, p10, p90 */
  speedup: { median: number; p10: number; p90: number };
}

function feedsFor(seqLen: number, hidden: number): Record<string, HostTensor> {
  const dims = [1, seqLen];
  const ids = BigInt64Array.from({ length: seqLen }, (_, i) =>
    BigInt(i === 0 ? 101 : i === seqLen - 1 ? 102 : 1000 + ((i * 7919) % 29000)),
  );
  let s = 1;
  const values = Float32Array.from({ length: seqLen * hidden }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 4 - 2;
  });
  return {
    [IO.inputIds]: int64Tensor(ids, dims),
    [IO.tokenTypeIds]: int64Tensor(new BigInt64Array(seqLen), dims),
    [IO.attentionMask]: int64Tensor(new BigInt64Array(seqLen).fill(1n), dims),
    [IO.hidden]: { dtype: 'float32', dims: [1, seqLen, hidden], data: values },
  };
}

async function measure(
  part: Row['part'],
  shards: { float: Uint8Array; int8: Uint8Array },
  seqLen: number,
  threads: number,
  rounds: number,
  hidden: number,
): Promise<Row> {
  const [f, q] = await Promise.all([
    ShardSession.create(shards.float, { threads }),
    ShardSession.create(shards.int8, { threads }),
  ]);
  const feeds = feedsFor(seqLen, hidden);
  try {
    const samples = await interleaved({ float32: () => f.run(feeds), int8: () => q.run(feeds) }, rounds);
    return {
      part,
      seqLen,
      threads,
      floatMs: median(samples.float32!),
      int8Ms: median(samples.int8!),
      speedup: pairedRatio(samples.float32!, samples.int8!),
    };
  } finally {
    await Promise.all([f.release(), q.release()]);
  }
}

const SPECS: Record<Row['part'], ShardSpec> = {
  layer: { kind: 'layers', start: 0, end: 1 },
  model: { kind: 'monolithic' },
};

function shardBytes(float: Checkpoint, int8: Checkpoint) {
  const last = float.config.numLayers - 1;
  const kinds: [string, ShardSpec][] = [
    ['layer', SPECS.layer],
    ['exit head', { kind: 'head', layer: last }],
    ['embeddings', { kind: 'embeddings' }],
    ['whole model', SPECS.model],
  ];
  return kinds.map(([name, spec]) => {
    const f = compileShard(float, spec).length;
    const q = compileShard(int8, spec).length;
    return { shard: name, float32Bytes: f, int8Bytes: q, ratio: f / q };
  });
}

export async function benchInt8(args: Int8BenchArgs): Promise<void> {
  const dirs = await models(args.layers);
  const [float, int8] = await Promise.all([loadCheckpoint(dirs.float), loadCheckpoint(dirs.int8)]);
  const H = float.config.hiddenSize;
  const bytes = shardBytes(float, int8);
  const loads = [machineLoad()];
  const rows: Row[] = [];
  for (const part of ['layer', 'model'] as const) {
    const shards = { float: compileShard(float, SPECS[part]), int8: compileShard(int8, SPECS[part]) };
    for (const seqLen of [32, 128]) {
      for (const threads of [1, 2]) {
        rows.push(await measure(part, shards, seqLen, threads, args.rounds, H));
        loads.push(machineLoad());
      }
    }
  }
  const target = rows.find((r) => r.part === 'model' && r.seqLen === 128 && r.threads === 1)!;
  const met = target.speedup.median >= TARGET;
  const warning = busyWarning(loads);
  if (args.json) {
    const doc = {
      layers: args.layers,
      rounds: args.rounds,
      rows,
      bytes,
      target: { ratio: TARGET, met },
      busy: !!warning,
    };
    process.stdout.write(`${JSON.stringify(doc)}\n`);
    if (warning) process.stderr.write(warning);
    return;
  }
  const out = (s: string) => process.stdout.write(s);
  out(
    `int8 vs float32: bert-base shape (hidden 768, 12 heads, FFN 3072), ${args.layers} layers (bert-base has 12; ` +
      `layers cost alike), random weights, ${args.rounds} interleaved rounds\n\n`,
  );
  out('part   tokens  threads  float32 ms  int8 ms  float32/int8 (p10-p90)\n');
  for (const r of rows) {
    out(
      `${r.part.padEnd(5)}  ${String(r.seqLen).padStart(6)}  ${String(r.threads).padStart(7)}  ` +
        `${r.floatMs.toFixed(2).padStart(10)}  ${r.int8Ms.toFixed(2).padStart(7)}  ` +
        `${r.speedup.median.toFixed(2)}x (${r.speedup.p10.toFixed(2)}-${r.speedup.p90.toFixed(2)})\n`,
    );
  }
  out('\nshard        float32 bytes   int8 bytes  float32/int8\n');
  for (const b of bytes) {
    out(
      `${b.shard.padEnd(11)}  ${String(b.float32Bytes).padStart(13)}  ${String(b.int8Bytes).padStart(11)}  ` +
        `${b.ratio.toFixed(2).padStart(12)}\n`,
    );
  }
  out(
    `\ntarget: int8 >= ${TARGET}x faster than float32, whole model, 1 thread, 128 tokens: ` +
      `${target.speedup.median.toFixed(2)}x, ${met ? 'met' : 'MISSED'}\n`,
  );
  if (warning) out(warning);
}
