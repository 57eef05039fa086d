import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { startAgentProcess, startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DIR } from './helpers/fixture.js';

const TEXT = 'a gorgeous , witty , seductive movie .';

describe('admission: who may join, and how much the cluster takes at once', function () {
  this.timeout(120_000);
  let cluster: SimCluster;
  let expected: { label: string; score: number };

  before(async () => {
    const runner = await ReferenceRunner.create(await loadCheckpoint(FIXTURE_DIR), loadTokenizer(FIXTURE_DIR), {
      threads: 1,
    });
    expected = (await runner.classify([TEXT]))[0]!;
    await runner.release();
    cluster = await startSimCluster({ model: FIXTURE_DIR, agents: 2, maxInFlight: 4, apiKey: 'secret-key' });
  });
  after(async () => cluster?.stop());

  const classify = (key = 'secret-key') =>
    fetch(`${cluster.url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ inputs: TEXT }),
    });

  it('refuses an agent with the wrong cluster token and keeps the plan as it was', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'edgerelay-intruder-'));
    const intruder = startAgentProcess({
      name: 'intruder',
      coordinator: `127.0.0.1:${cluster.coordinator.grpcPort}`,
      dataDir,
      threads: 1,
      logLevel: 'error',
      clusterToken: 'not-the-token',
    });
    try {
      const started = await Promise.race([
        intruder.ready.then(() => 'ready'),
        new Promise((r) => setTimeout(() => r('refused'), 4000)),
      ]);
      assert.equal(started, 'refused');
      assert.match(intruder.stderrTail(), /refused this agent: check --cluster-token/);
      assert.equal(cluster.coordinator.registry.get('intruder'), undefined);
      assert.equal(cluster.coordinator.activePlan!.version, cluster.plan.version);
    } finally {
      intruder.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('answers 401 without the API key, and the right answer with it', async () => {
    const refused = await classify('wrong-key');
    assert.equal(refused.status, 401);
    assert.match(((await refused.json()) as { error: string }).error, /API key/);
    const ok = await classify();
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { label: string; score: number }[][];
    assert.equal(body[0]![0]!.label, expected.label);
  });

  it('sheds load with 503 and Retry-After when more requests arrive than it may hold, answering the rest correctly', async () => {
    const responses = await Promise.all(Array.from({ length: 60 }, () => classify()));
    const statuses = responses.map((r) => r.status);
    const shed = responses.filter((r) => r.status === 503);
    assert.ok(shed.length > 0, 'some requests should be shed');
    for (const r of shed) assert.ok(Number(r.headers.get('retry-after')) >= 1);
    assert.deepEqual([...new Set(statuses)].sort(), [200, 503]);
    for (const r of responses.filter((x) => x.status === 200)) {
      const body = (await r.json()) as { label: string; score: number }[][];
      assert.equal(body[0]![0]!.label, expected.label);
      assert.ok(Math.abs(body[0]![0]!.score - expected.score) < 1e-4);
    }
    // Still healthy afterwards.
    assert.equal((await classify()).status, 200);
  });
});
