import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { writePlanFile } from './plan-files.js';
import { bertBaseCheckpoint } from './models.js';
import { interleaved, median } from './stats.js';
import { busyWarning, machineLoad, pairedRatio } from './busy.js';
import { generateClusterCerts } from '../coordinator/security/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

async function classify(url: string, text: string): Promise<void> {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: text }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/** Data-plane bytes the coordinator and all agents sent, per request, over `requests` requests. */
async function bytesPerRequest(cluster: SimCluster, text: string, requests: number): Promise<number> {
  const total = async () => {
    const stats = await Promise.all(cluster.agents.map((a) => cluster.coordinator.agentStats(a.name)));
    return stats.reduce((s, st) => s + st.bytesSent, 0) + cluster.coordinator.dataPlaneBytesSent;
  };
  const before = await total();
  for (let i = 0; i < requests; i++) await classify(cluster.url, text);
  return ((await total()) - before) / requests;
}

/**
 * A 3-stage pipeline of agent processes on loopback vs the single-node reference, bert-base shape,
 * 128 tokens, one ONNX Runtime thread per agent and for the reference.
 */
export async function benchClusterOverhead(args: { rounds: number; seqLen: number }): Promise<void> {
  const model = await bertBaseCheckpoint();
  const checkpoint = await loadCheckpoint(model);
  const tokenizer = loadTokenizer(model);
  // Single letters are single tokens in the synthetic vocabulary: seqLen - 2 words + [CLS] + [SEP].
  const text = Array.from({ length: args.seqLen - 2 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ');
  const tokens = tokenizer.encode(text, 512).ids.length;
  const reference = await ReferenceRunner.create(checkpoint, tokenizer, { threads: 1 });
  const plan = writePlanFile({
    stages: [
      { layers: [0, 4], host: 'agent-0' },
      { layers: [4, 8], host: 'agent-1' },
      { layers: [8, 12], host: 'agent-2' },
    ],
  });
  process.stdout.write(
    `cluster overhead: bert-base shape, ${tokens} tokens, 3-stage pipeline (4+4+4 layers) on loopback, 1 thread per agent vs 1-thread reference, ${args.rounds} rounds\n\n`,
  );
  const loads = [machineLoad()];
  const results: Record<string, { ms: number; refMs: number; bytes: number }> = {};
  for (const wireDtype of ['float32', 'float16'] as const) {
    const cluster = await startSimCluster({
      model,
      agents: 3,
      planFile: plan,
      wireDtype,
      threads: 1,
      readyTimeoutMs: 300_000,
    });
    try {
      // The agents measure their links at join time (2 MiB probes): time serving, not that.
      await cluster.coordinator.linksMeasured();
      const samples = await interleaved(
        { reference: () => reference.classify([text]), cluster: () => classify(cluster.url, text) },
        args.rounds,
      );
      results[wireDtype] = {
        ms: median(samples.cluster!),
        refMs: median(samples.reference!),
        bytes: await bytesPerRequest(cluster, text, 5),
      };
    } finally {
      await cluster.stop();
    }
  }
  await reference.release();
  loads.push(machineLoad());
  process.stdout.write('wire dtype  reference ms  pipeline ms  pipeline / reference  data-plane bytes per request\n');
  for (const [dtype, r] of Object.entries(results)) {
    process.stdout.write(
      `${dtype.padEnd(10)}  ${r.refMs.toFixed(1).padStart(12)}  ${r.ms.toFixed(1).padStart(11)}  ${(r.ms / r.refMs).toFixed(3).padStart(20)}  ${Math.round(r.bytes).toLocaleString('en-US').padStart(28)}\n`,
    );
  }
  const f32 = results.float32!.bytes;
  const f16 = results.float16!.bytes;
  process.stdout.write(`\nfloat16 / float32 bytes on the wire: ${(f16 / f32).toFixed(3)}\n`);
  await benchTlsCost(model, plan, text, args.rounds, loads);
  process.stdout.write(busyWarning(loads));
}

/**
 * The cost of mutual TLS on the data plane: the same float32 pipeline with plain ws and with wss,
 * both clusters up at once and their requests interleaved round by round.
 */
async function benchTlsCost(
  model: string,
  plan: string,
  text: string,
  rounds: number,
  loads: ReturnType<typeof machineLoad>[],
) {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-bench-tls-'));
  generateClusterCerts({ outDir: dir, agents: ['agent-0', 'agent-1', 'agent-2'] });
  const start = (tlsDir?: string) =>
    startSimCluster({ model, agents: 3, planFile: plan, threads: 1, readyTimeoutMs: 300_000, tlsDir });
  const plain = await start();
  const tls = await start(dir).catch(async (err: unknown) => {
    await plain.stop();
    throw err;
  });
  try {
    await Promise.all([plain.coordinator.linksMeasured(), tls.coordinator.linksMeasured()]);
    const samples = await interleaved(
      { plain: () => classify(plain.url, text), tls: () => classify(tls.url, text) },
      rounds,
    );
    loads.push(machineLoad());
    const ratio = pairedRatio(samples.tls!, samples.plain!);
    process.stdout.write(
      `\nmutual TLS on the data plane (wss), float32 pipeline, ${rounds} interleaved rounds:\n` +
        `plain ws ${median(samples.plain!).toFixed(1)} ms, wss ${median(samples.tls!).toFixed(1)} ms, ` +
        `wss / ws ${ratio.median.toFixed(3)} (p10-p90 of per-round ratios ${ratio.p10.toFixed(3)}-${ratio.p90.toFixed(3)})\n`,
    );
  } finally {
    await Promise.all([plain.stop(), tls.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
