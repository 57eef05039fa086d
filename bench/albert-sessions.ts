/**
 * Run as a child process: compile the shards agent-1 of the memory plan needs (layers 1-5 and their exit heads),
 * load one ONNX session per distinct shard as the agent does, and print the process's resident memory before and
 * after (JSON). A fresh process keeps the measurement free of what the bench itself holds.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { compileShard, type ShardSpec } from '../coordinator/compiler/index.js';
import { ShardSession } from '../device-agent/runtime/index.js';

const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

const checkpoint = await loadCheckpoint(process.argv[2]!);
const specs: ShardSpec[] = [];
for (let l = 1; l < 6; l++) specs.push({ kind: 'layers', start: l, end: l + 1 }, { kind: 'head', layer: l });
const shards = new Map<string, Uint8Array>();
for (const spec of specs) {
  const bytes = compileShard(checkpoint, spec);
  shards.set(createHash('sha256').update(bytes).digest('hex'), bytes);
}
const bytes = [...shards.values()].reduce((s, b) => s + b.byteLength, 0);
// Only the shard bytes stay referenced (the agent reads them from its cache); drop the checkpoint's tensors.
const models = [...shards.values()].map((b) => b.slice());
shards.clear();
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 200));
const before = rss();
const sessions: ShardSession[] = [];
for (const m of models) sessions.push(await ShardSession.create(m, { threads: 1 }));
await new Promise((r) => setTimeout(r, 200));
const after = rss();
process.stdout.write(`${JSON.stringify({ sessions: sessions.length, shardBytes: bytes, before, after })}\n`);
await Promise.all(sessions.map((s) => s.release()));
