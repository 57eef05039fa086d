import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

import { generateClusterCerts } from '../coordinator/security/certs.js';
import { loadCoordinatorDataPlaneTls } from '../coordinator/security/credentials.js';
import { loadAgentDataPlaneTls } from '../device-agent/security/tls-files.js';
import { dial, UNAUTHENTICATED, type DataPlaneTls, type Link } from '../proto/index.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DIR } from './helpers/fixture.js';
import { writePlan } from './helpers/plans.js';

/** Resolves with the close code once the server has dropped `link`. */
function closed(link: Link): Promise<number> {
  return new Promise((resolve) => {
    if (link.socket.readyState === WebSocket.CLOSED) resolve(link.socket.readyState);
    link.socket.once('close', (code: number) => resolve(code));
  });
}

/** Opens a raw WebSocket with these TLS options; resolves 'open' or the error message. */
function rawConnect(url: string, options: WebSocket.ClientOptions): Promise<string> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, options);
    socket.once('open', () => {
      socket.terminate();
      resolve('open');
    });
    socket.once('error', (err) => resolve(err.message));
  });
}

describe('the data plane over TLS (wss) with the cluster certificates', function () {
  this.timeout(180_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'edgerelay-wss-'));
  const foreignDir = mkdtempSync(path.join(tmpdir(), 'edgerelay-wss-foreign-'));
  let cluster: SimCluster;
  let address: (agent: string) => string;

  before(async function () {
    generateClusterCerts({ outDir: dir, agents: ['agent-0', 'agent-1'] });
    generateClusterCerts({ outDir: foreignDir, agents: ['agent-0'] });
    cluster = await startSimCluster({
      model: FIXTURE_DIR,
      agents: 2,
      threads: 1,
      logLevel: 'fatal',
      tlsDir: dir,
      // Both agents hold a stage, so a request crosses an agent-to-agent link too.
      planFile: writePlan({
        stages: [
          { layers: [0, 3], host: 'agent-0' },
          { layers: [3, 6], host: 'agent-1' },
        ],
      }),
    });
    const endpoints = new Map(cluster.plan.endpoints.map((e) => [e.agentId, e.dataAddress]));
    address = (agent) => endpoints.get(agent)!;
  });
  after(async function () {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(foreignDir, { recursive: true, force: true });
  });

  it('serves requests through both agents over wss', async function () {
    const res = await fetch(`${cluster.url}/v1/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: 'a gorgeous , witty , seductive movie .', parameters: { details: true } }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { details: { agents: string[] }[] };
    assert.deepEqual(body.details[0]!.agents, ['agent-0', 'agent-1']);
  });

  it('refuses plain WebSocket, a client without a certificate, and one from another CA', async function () {
    const own = loadAgentDataPlaneTls(dir, 'agent-1');
    const foreign = loadAgentDataPlaneTls(foreignDir, 'agent-0');
    const anyServer = { checkServerIdentity: () => undefined } as unknown as WebSocket.ClientOptions;
    assert.notEqual(await rawConnect(`ws://${address('agent-0')}`, {}), 'open');
    assert.notEqual(await rawConnect(`wss://${address('agent-0')}`, { ca: own.ca, ...anyServer }), 'open');
    assert.notEqual(
      await rawConnect(`wss://${address('agent-0')}`, {
        ca: own.ca,
        cert: foreign.cert,
        key: foreign.key,
        ...anyServer,
      }),
      'open',
    );
    // The same client with its own CA's certificate gets through TLS (the handshake then asks for a plan key).
    assert.equal(
      await rawConnect(`wss://${address('agent-0')}`, { ca: own.ca, cert: own.cert, key: own.key, ...anyServer }),
      'open',
    );
  });

  it("refuses a peer whose hello names someone other than its certificate's CN", async function () {
    const key = cluster.coordinator.dataPlaneKey!;
    const asAgent1: DataPlaneTls = loadAgentDataPlaneTls(dir, 'agent-1');
    const tls = { credentials: asAgent1, peer: 'agent-0' };
    const impostor = await dial(
      address('agent-0'),
      { role: 'agent', from: 'agent-7' },
      key,
      () => {},
      () => {},
      { tls },
    );
    assert.equal(await closed(impostor), UNAUTHENTICATED);
    const fakeCoordinator = await dial(
      address('agent-0'),
      { role: 'coordinator', from: 'x' },
      key,
      () => {},
      () => {},
      {
        tls,
      },
    );
    assert.equal(await closed(fakeCoordinator), UNAUTHENTICATED);
    // The coordinator's own certificate may speak as the coordinator.
    const coordinatorTls = { credentials: loadCoordinatorDataPlaneTls(dir), peer: 'agent-0' };
    const real = await dial(
      address('agent-0'),
      { role: 'coordinator', from: 'probe' },
      key,
      () => {},
      () => {},
      {
        tls: coordinatorTls,
      },
    );
    const outcome = await Promise.race([closed(real), new Promise((r) => setTimeout(() => r('open'), 500))]);
    assert.equal(outcome, 'open');
    real.close();
  });

  it('refuses a server whose certificate names another agent than the one dialed', async function () {
    const key = cluster.coordinator.dataPlaneKey!;
    const tls = { credentials: loadCoordinatorDataPlaneTls(dir), peer: 'agent-1' };
    await assert.rejects(
      dial(
        address('agent-0'),
        { role: 'coordinator', from: 'probe' },
        key,
        () => {},
        () => {},
        { tls },
      ),
      /certificate for "agent-0", not for "agent-1"/,
    );
  });
});
