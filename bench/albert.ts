/**
 * `npm run bench -- albert`: the ALBERT fixture at K = 6, 3 and 2 ODE steps, on the single-node reference and on a
 * 3-agent loopback pipeline, timed interleaved; the K = 6 / K ratios against the predicted 6 / K; then bytes shipped
 * and resident memory per agent, ALBERT vs the BERT fixture of the same shape.
 */
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startSimCluster } from '../sim/index.js';
import { measureMemory } from './albert-memory.js';
import { writePlanFile } from './plan-files.js';
import { interleaved, median, percentile } from './stats.js';

const FIXTURES = path.resolve('../shared/fixtures');
const ALBERT = path.join(FIXTURES, 'sst2-albert-6L-256H');
const BERT = path.join(FIXTURES, 'sst2-bert-6L-256H');
const STEPS = [6, 3, 2] as const;
const MB = 1024 * 1024;

async function classify(url: string, text: string, odeSteps: number): Promise<void> {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: text, parameters: { ode_steps: odeSteps, exit_policy: 'none' } }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/** Spread of a variant's samples: interquartile range over the median. */
function spread(samples: number[]): number {
  return (percentile(samples, 75) - percentile(samples, 25)) / median(samples);
}

export async function benchAlbert(args: { rounds: number; json?: boolean }): Promise<void> {
  const checkpoint = await loadCheckpoint(ALBERT);
  const tokenizer = loadTokenizer(ALBERT);
  // The longest dev sentence that fits the 64 tokens the fixture was trained on, so nothing is truncated.
  const sentences = readLabelledTsv(path.join(ALBERT, 'dev.tsv')).map((e) => e.sentence);
  const text = sentences
    .filter((s) => tokenizer.encode(s, 65).ids.length <= 64)
    .sort((a, b) => tokenizer.encode(b, 65).ids.length - tokenizer.encode(a, 65).ids.length)[0]!;
  const tokens = tokenizer.encode(text, 64).ids.length;
  const reference = await ReferenceRunner.create(checkpoint, tokenizer, { threads: 1, maxLength: 64 });
  const cluster = await startSimCluster({
    model: ALBERT,
    agents: 3,
    threads: 1,
    planFile: writePlanFile({
      stages: [
        { layers: [0, 2], host: 'agent-0' },
        { layers: [2, 4], host: 'agent-1' },
        { layers: [4, 6], host: 'agent-2' },
      ],
    }),
  });
  const loadBefore = loadavg()[0]!;
  let samples: Record<string, number[]>;
  try {
    await cluster.coordinator.linksMeasured(); // join-time link probes would distort the first rounds
    const variants: Record<string, () => Promise<unknown>> = {};
    for (const K of STEPS) variants[`single K=${K}`] = () => reference.classify([text], 1, K);
    for (const K of STEPS) variants[`cluster K=${K}`] = () => classify(cluster.url, text, K);
    samples = await interleaved(variants, args.rounds);
  } finally {
    await cluster.stop();
    await reference.release();
  }
  const loadAfter = loadavg()[0]!;
  const cores = cpus().length;

  const memory = [await measureMemory(ALBERT, 'ALBERT', text), await measureMemory(BERT, 'BERT', text)];

  const rows = Object.entries(samples).map(([name, s]) => ({
    name,
    medianMs: median(s),
    spread: spread(s),
  }));
  const ratios = (['single', 'cluster'] as const).flatMap((where) =>
    STEPS.filter((K) => K !== 6).map((K) => ({
      where,
      K,
      measured: median(samples[`${where} K=6`]!) / median(samples[`${where} K=${K}`]!),
      predicted: 6 / K,
    })),
  );
  const busy = loadBefore > cores || loadAfter > cores || rows.some((r) => r.spread > 0.25);
  const doc = { tokens, rounds: args.rounds, cores, loadBefore, loadAfter, busy, rows, ratios, memory };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(doc)}\n`);
    return;
  }
  const out = (s: string) => process.stdout.write(s);
  out(`albert: sst2-albert-6L-256H, ${tokens} tokens, ${args.rounds} rounds\n`);
  out('1 ONNX Runtime thread per agent and for the single node; 3-stage pipeline 2+2+2 on loopback\n\n');
  out('variant         median ms  spread (IQR/median)\n');
  for (const r of rows)
    out(`${r.name.padEnd(14)}  ${r.medianMs.toFixed(2).padStart(9)}  ${r.spread.toFixed(3).padStart(19)}\n`);
  out('\nspeedup of K steps over K = 6 (median / median) vs the predicted 6 / K (layer compute only)\n');
  for (const r of ratios)
    out(
      `${r.where.padEnd(8)} K=${r.K}: ${r.measured.toFixed(2)}× measured, ${r.predicted.toFixed(2)}× predicted (${((100 * r.measured) / r.predicted).toFixed(0)}%)\n`,
    );
  out('\nbytes shipped and resident memory per agent (agent-0: embeddings + 1 application; agent-1: 5 applications)\n');
  out('model   agent    shards shipped MB   resident MB\n');
  for (const m of memory)
    for (const agent of Object.keys(m.shipped))
      out(
        `${m.model.padEnd(6)}  ${agent}  ${(m.shipped[agent]! / MB).toFixed(2).padStart(17)}  ${(m.rssBytes[agent]! / MB).toFixed(1).padStart(12)}\n`,
      );
  out("\nagent-1's shards loaded the agent's way in a fresh process (one session per distinct shard)\n");
  out('model   sessions   shard MB   RSS growth MB\n');
  for (const m of memory)
    out(
      `${m.model.padEnd(6)}  ${String(m.sessions.count).padStart(8)}  ${(m.sessions.shardBytes / MB).toFixed(2).padStart(9)}  ${(m.sessions.rssGrowth / MB).toFixed(1).padStart(14)}\n`,
    );
  const [a, b] = memory as [(typeof memory)[0], (typeof memory)[0]];
  out(
    `\nagent-1 (5 applications): ALBERT / BERT shipped ${(a.shipped['agent-1']! / b.shipped['agent-1']!).toFixed(3)}, ` +
      `resident ${(a.rssBytes['agent-1']! / b.rssBytes['agent-1']!).toFixed(3)}, ` +
      `session memory ${(a.sessions.rssGrowth / b.sessions.rssGrowth).toFixed(3)}\n`,
  );
  out(`load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after, ${cores} cores\n`);
  if (busy)
    out(
      '\nWARNING: the machine was busy (load average above the core count, or a variant spread over 25%): the timings are distorted; re-run on an idle machine.\n',
    );
}
