import { loadavg, cpus } from 'node:os';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import type { Checkpoint } from '../coordinator/checkpoint/types.js';
import { compileShard, IO } from '../coordinator/compiler/index.js';
import { runPrunedBatch } from '../coordinator/reference/pruned-batch.js';
import type { EncodedBatch } from '../coordinator/tokenizer/index.js';
import { ShardSession, int64Tensor } from '../device-agent/runtime/index.js';
import { encoderFlops, scheduleForSpeedup } from '../coordinator/pruning/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { formatKeep, type TokenPruning } from '../device-agent/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { writePlanFile } from './plan-files.js';
import { bertBaseCheckpoint } from './models.js';
import { interleaved, median, percentile } from './stats.js';

/** A variant whose (p90 − p10) / median exceeds this was timed on a machine doing something else too. */
const BUSY_SPREAD = 0.25;

async function classify(url: string, text: string, tokenPruning: string): Promise<void> {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: text, parameters: { token_pruning: tokenPruning, exit_policy: 'none' } }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

async function bytesPerRequest(cluster: SimCluster, text: string, spec: string, requests: number): Promise<number> {
  const total = async () => {
    const stats = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
    return stats.reduce((s, st) => s + st.bytesSent, 0) + cluster.coordinator.dataPlaneBytesSent;
  };
  const before = await total();
  for (let i = 0; i < requests; i++) await classify(cluster.url, text, spec);
  return ((await total()) - before) / requests;
}

const spread = (xs: number[]) => (percentile(xs, 90) - percentile(xs, 10)) / median(xs);

interface Row {
  name: string;
  spec: string;
  predicted: number;
  measured: number;
  spread: number;
  bytes?: number;
}

function printRows(title: string, rows: Row[], baseSpread: number): boolean {
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(
    'schedule                                          predicted speed-up  measured speed-up  measured / predicted  spread  bytes per request\n',
  );
  let busy = baseSpread > BUSY_SPREAD;
  for (const r of rows) {
    busy ||= r.spread > BUSY_SPREAD;
    const ok = Math.abs(r.measured / r.predicted - 1) <= 0.15 ? '' : '  (outside 15%)';
    process.stdout.write(
      `${r.spec.padEnd(48)}  ${r.predicted.toFixed(3).padStart(18)}  ${r.measured.toFixed(3).padStart(17)}  ${(r.measured / r.predicted).toFixed(3).padStart(20)}  ${(100 * r.spread).toFixed(0).padStart(5)}%  ${r.bytes === undefined ? '-' : Math.round(r.bytes).toLocaleString('en-US')}${ok}\n`,
    );
  }
  return busy;
}

/**
 * What the FLOP model predicts exactly: the encoder layers alone (the same scoring shards pruned or
 * not, no embeddings, no exit heads, no tokenizer), so the fixed per-request work is out of the ratio.
 */
async function encoderOnly(
  checkpoint: Checkpoint,
  batch: EncodedBatch,
  schedules: TokenPruning[],
  predicted: (p: TokenPruning) => number,
  rounds: number,
): Promise<boolean> {
  const L = checkpoint.config.numLayers;
  const layers = await Promise.all(
    Array.from({ length: L }, (_, l) =>
      ShardSession.create(compileShard(checkpoint, { kind: 'layers', start: l, end: l + 1, attentionReceived: true }), {
        threads: 1,
      }),
    ),
  );
  const embeddings = await ShardSession.create(compileShard(checkpoint, { kind: 'embeddings' }), { threads: 1 });
  const ones: TokenPruning = { keep: new Array<number>(L).fill(1) };
  const run = (p: TokenPruning) => runPrunedBatch(batch, p, embeddings, layers, new Map());
  // The embeddings run once per request either way; time them alone to take them out.
  const samples = await interleaved(
    {
      none: () => run(ones),
      embeddings: () =>
        embeddings.run({
          [IO.inputIds]: int64Tensor(batch.inputIds, [1, batch.seqLen]),
          [IO.tokenTypeIds]: int64Tensor(batch.tokenTypeIds, [1, batch.seqLen]),
        }),
      ...Object.fromEntries(schedules.map((p, i) => [`s${i}`, () => run(p)])),
    },
    rounds,
  );
  await Promise.all([embeddings, ...layers].map((s) => s.release()));
  const emb = median(samples.embeddings!);
  const base = median(samples.none!) - emb;
  const rows = schedules.map((p, i) => ({
    name: `s${i}`,
    spec: formatKeep(p.keep),
    predicted: predicted(p),
    measured: base / (median(samples[`s${i}`]!) - emb),
    spread: spread(samples[`s${i}`]!),
  }));
  return printRows(
    `encoder layers only, single node (unpruned median ${base.toFixed(1)} ms, embeddings ${emb.toFixed(1)} ms taken out)`,
    rows,
    spread(samples.none!),
  );
}

/**
 * Token pruning on a bert-base-shaped model at 128 tokens: for three schedules, the encoder speed-up
 * the FLOP model predicts against the latency ratio measured (unpruned / pruned, interleaved), on one
 * node and through a 3-stage loopback pipeline, with the data-plane bytes per request.
 */
export async function benchTokenPruning(args: { rounds: number; seqLen: number }): Promise<void> {
  const model = await bertBaseCheckpoint();
  const checkpoint = await loadCheckpoint(model);
  const tokenizer = loadTokenizer(model);
  const shape = checkpoint.config;
  const text = Array.from({ length: args.seqLen - 2 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ');
  const tokens = tokenizer.encode(text, 512).ids.length;
  const schedules: TokenPruning[] = [1.5, 2, 3].map((s) => scheduleForSpeedup(shape, s, tokens, { floor: 0.2 }));
  const full = encoderFlops(shape, tokens);
  const predicted = (p: TokenPruning) => full / encoderFlops(shape, tokens, p.keep);
  const loadBefore = loadavg()[0]!;
  process.stdout.write(
    `token pruning: bert-base shape (${shape.numLayers} × ${shape.hiddenSize}), ${tokens} tokens, 1 thread, ${args.rounds} interleaved rounds; predicted = encoder FLOPs model (docs/token-pruning.md)\n`,
  );

  // Single node: the reference runner unpruned vs under each schedule.
  const runner = await ReferenceRunner.create(checkpoint, tokenizer, { threads: 1 });
  const single = await interleaved(
    {
      none: () => runner.classify([text]),
      ...Object.fromEntries(schedules.map((p, i) => [`s${i}`, () => runner.classify([text], 1, undefined, p)])),
    },
    args.rounds,
  );
  await runner.release();
  const encoderBusy = await encoderOnly(
    checkpoint,
    tokenizer.encodeBatch([text], 512),
    schedules,
    predicted,
    args.rounds,
  );
  const base = median(single.none!);
  const singleRows = schedules.map((p, i) => ({
    name: `s${i}`,
    spec: formatKeep(p.keep),
    predicted: predicted(p),
    measured: base / median(single[`s${i}`]!),
    spread: spread(single[`s${i}`]!),
  }));
  let busy =
    printRows(
      `single node, whole request: embeddings, layers, 12 exit heads (unpruned median ${base.toFixed(1)} ms)`,
      singleRows,
      spread(single.none!),
    ) || encoderBusy;

  // The 3-stage pipeline: the same request with and without parameters.token_pruning.
  const cluster = await startSimCluster({
    model,
    agents: 3,
    planFile: writePlanFile({
      stages: [
        { layers: [0, 4], host: 'agent-0' },
        { layers: [4, 8], host: 'agent-1' },
        { layers: [8, 12], host: 'agent-2' },
      ],
    }),
    threads: 1,
    readyTimeoutMs: 300_000,
  });
  try {
    await cluster.coordinator.linksMeasured();
    const specs = schedules.map((p) => formatKeep(p.keep));
    const samples = await interleaved(
      {
        none: () => classify(cluster.url, text, 'none'),
        ...Object.fromEntries(specs.map((spec, i) => [`s${i}`, () => classify(cluster.url, text, spec)])),
      },
      args.rounds,
    );
    const clusterBase = median(samples.none!);
    const baseBytes = await bytesPerRequest(cluster, text, 'none', 3);
    const rows: Row[] = [];
    for (const [i, p] of schedules.entries())
      rows.push({
        name: `s${i}`,
        spec: specs[i]!,
        predicted: predicted(p),
        measured: clusterBase / median(samples[`s${i}`]!),
        spread: spread(samples[`s${i}`]!),
        bytes: await bytesPerRequest(cluster, text, specs[i]!, 3),
      });
    busy =
      printRows(
        `3-stage loopback pipeline, float32 wire (unpruned median ${clusterBase.toFixed(1)} ms, ${Math.round(baseBytes).toLocaleString('en-US')} data-plane bytes per request)`,
        rows,
        spread(samples.none!),
      ) || busy;
  } finally {
    await cluster.stop();
  }
  const loadAfter = loadavg()[0]!;
  if (busy || Math.max(loadBefore, loadAfter) > cpus().length)
    process.stdout.write(
      `\nWARNING: the machine was busy (load average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} on ${cpus().length} CPUs, or a variant's spread over ${100 * BUSY_SPREAD}%): the measured ratios are distorted; run again on a quiet machine.\n`,
    );
}
