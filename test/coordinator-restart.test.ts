import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import parsePrometheusTextFormat from 'parse-prometheus-text-format';

import { startAgentProcess, type AgentProcess } from '../sim/index.js';
import { freePort, spawnEdgerelay } from './helpers/cli.js';
import { FIXTURE_DIR } from './helpers/fixture.js';

const TEXT = 'a gorgeous , witty , seductive movie .';

describe('a coordinator that dies and comes back (real processes)', function () {
  this.timeout(240_000);
  const token = randomBytes(16).toString('hex');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'edgerelay-restart-'));
  let grpcPort: number;
  let httpPort: number;
  let coordinator: ChildProcess | undefined;
  let agents: AgentProcess[] = [];
  const url = () => `http://127.0.0.1:${httpPort}`;

  function startCoordinator(): ChildProcess {
    const child = spawnEdgerelay(
      [
        'coordinator',
        '--model',
        FIXTURE_DIR,
        '--host',
        '127.0.0.1',
        '--port',
        String(grpcPort),
        '--http-port',
        String(httpPort),
        '--min-agents',
        '2',
        '--log-level',
        'warn',
      ],
      { EDGERELAY_CLUSTER_TOKEN: token },
    );
    child.stderr!.on('data', (d: Buffer) => process.env.EDGERELAY_SIM_VERBOSE && process.stderr.write(d));
    return child;
  }

  /** Polls until the coordinator answers a classification; resolves with the answer and how long it took. */
  async function firstAnswer(deadlineMs: number): Promise<{ label: string; score: number; ms: number }> {
    const started = performance.now();
    while (performance.now() - started < deadlineMs) {
      try {
        const res = await fetch(`${url()}/v1/classify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: TEXT }),
        });
        if (res.status === 200) {
          const [[best]] = (await res.json()) as { label: string; score: number }[][];
          return { ...best!, ms: performance.now() - started };
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no answer within ${deadlineMs} ms`);
  }

  async function shardBytesSent(): Promise<number> {
    const families = parsePrometheusTextFormat(await (await fetch(`${url()}/metrics`)).text());
    const family = families.find((f) => f.name === 'edgerelay_shard_sent_bytes_total');
    assert.ok(family, 'edgerelay_shard_sent_bytes_total is missing');
    return family.metrics.reduce((sum, m) => sum + Number(m.value), 0);
  }

  before(async function () {
    grpcPort = await freePort();
    httpPort = await freePort();
  });
  after(async function () {
    coordinator?.kill('SIGKILL');
    for (const a of agents) a.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('agents reconnect by themselves, keep their shard caches, and serving resumes', async function () {
    coordinator = startCoordinator();
    agents = ['agent-0', 'agent-1'].map((name) =>
      startAgentProcess({
        name,
        coordinator: `127.0.0.1:${grpcPort}`,
        dataDir,
        threads: 1,
        clusterToken: token,
      }),
    );
    const before = await firstAnswer(120_000);
    assert.ok((await shardBytesSent()) > 0, 'the first deployment streams the shards');

    coordinator.kill('SIGKILL');
    await new Promise((r) => coordinator!.once('exit', r));
    coordinator = startCoordinator();
    const after = await firstAnswer(120_000);

    for (const a of agents) assert.equal(a.child.exitCode, null, `${a.name} kept running`);
    assert.equal(after.label, before.label);
    assert.ok(Math.abs(after.score - before.score) < 1e-4);
    assert.equal(await shardBytesSent(), 0, 'the agents served the new plan from their caches');
    console.log(`      time from coordinator restart to the first answered request: ${after.ms.toFixed(0)} ms`);
  });
});
