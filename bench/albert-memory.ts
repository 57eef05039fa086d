/** Bytes shipped to an agent and its resident memory for a stage of k applications: ALBERT vs the BERT fixture. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startSimCluster } from '../sim/index.js';
import { writePlanFile } from './plan-files.js';

export interface MemoryFigures {
  model: string;
  /** shard bytes the coordinator streamed to each agent while deploying */
  shipped: Record<string, number>;
  /** resident memory of each agent process after the plan loaded and served a few requests */
  rssBytes: Record<string, number>;
  /** agent-1's shards loaded the agent's way (one session per distinct shard) in a fresh process: RSS growth */
  sessions: { count: number; shardBytes: number; rssGrowth: number };
}

/** bench/albert-sessions.ts in a child process (fresh heap, GC exposed), parsed. */
function sessionMemory(model: string): MemoryFigures['sessions'] {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--conditions=development', 'bench/albert-sessions.ts', model],
    { encoding: 'utf8' },
  );
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as {
    sessions: number;
    shardBytes: number;
    before: number;
    after: number;
  };
  return { count: r.sessions, shardBytes: r.shardBytes, rssGrowth: r.after - r.before };
}

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/**
 * agent-0 runs the embeddings and application 1; agent-1 the other k = L − 1 applications (and their exit heads).
 * With a shared layer agent-1 receives and loads the layer once; with BERT it gets k distinct layers.
 */
export async function measureMemory(model: string, name: string, text: string): Promise<MemoryFigures> {
  const cluster = await startSimCluster({
    model,
    agents: 2,
    threads: 1,
    readyTimeoutMs: 300_000,
    planFile: writePlanFile({
      stages: [
        { layers: [0, 1], host: 'agent-0' },
        { layers: [1, 6], host: 'agent-1' },
      ],
    }),
  });
  try {
    await cluster.coordinator.linksMeasured();
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: text }),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    }
    const shipped: Record<string, number> = {};
    const rss: Record<string, number> = {};
    for (const a of cluster.agents) {
      shipped[a.name] = cluster.coordinator.shardBytesSent.get(a.name) ?? 0;
      rss[a.name] = rssBytes(a.child.pid!);
    }
    return { model: name, shipped, rssBytes: rss, sessions: sessionMemory(model) };
  } finally {
    await cluster.stop();
  }
}
