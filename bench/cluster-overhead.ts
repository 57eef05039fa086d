import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { writePlanFile } from './plan-files.js';
import { bertBaseCheckpoint } from './models.js';
import { interleaved, median } from './stats.js';

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
  process.stdout.write('wire dtype  reference ms  pipeline ms  pipeline / reference  data-plane bytes per request\n');
  for (const [dtype, r] of Object.entries(results)) {
    process.stdout.write(
      `${dtype.padEnd(10)}  ${r.refMs.toFixed(1).padStart(12)}  ${r.ms.toFixed(1).padStart(11)}  ${(r.ms / r.refMs).toFixed(3).padStart(20)}  ${Math.round(r.bytes).toLocaleString('en-US').padStart(28)}\n`,
    );
  }
  const f32 = results.float32!.bytes;
  const f16 = results.float16!.bytes;
  process.stdout.write(`\nfloat16 / float32 bytes on the wire: ${(f16 / f32).toFixed(3)}\n`);
}
