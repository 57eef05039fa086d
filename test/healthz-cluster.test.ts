import assert from 'node:assert/strict';

import { startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DIR } from './helpers/fixture.js';

describe('GET /healthz on a running coordinator', function () {
  this.timeout(120_000);
  let cluster: SimCluster;

  before(async function () {
    cluster = await startSimCluster({ model: FIXTURE_DIR, agents: 2, threads: 1, logLevel: 'error' });
  });
  after(async function () {
    await cluster?.stop();
  });

  it('reports the deployed plan version and how many agents are connected', async function () {
    const res = await fetch(`${cluster.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      status: 'ok',
      ready: true,
      planVersion: cluster.coordinator.activePlan!.version,
      agentsConnected: 2,
    });
  });

  it('reports one agent fewer once an agent has been killed', async function () {
    cluster.agents[1]!.child.kill('SIGKILL');
    let body: { agentsConnected: number } | undefined;
    for (let i = 0; i < 100; i++) {
      body = (await (await fetch(`${cluster.url}/healthz`)).json()) as { agentsConnected: number };
      if (body.agentsConnected === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body!.agentsConnected, 1);
  });
});
