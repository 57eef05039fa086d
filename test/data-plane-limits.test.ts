import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { dial, type Link } from '../proto/data-plane/link.js';
import { HANDSHAKE_MAX_BYTES, MAX_PENDING_HANDSHAKES, maxFrameBytesFor } from '../proto/data-plane/limits.js';
import { TRY_AGAIN_LATER } from '../device-agent/data-plane/server.js';
import { decodeFrame, encodeFrame, FRAME_LIMITS, type Frame } from '../proto/frames.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DIR } from './helpers/fixture.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';

const MB = 1024 * 1024;

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** Opens a raw WebSocket to a data-plane address and resolves once it is open (the challenge may follow). */
function rawSocket(address: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${address}`, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closeCode(ws: WebSocket, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

async function classifyOk(cluster: SimCluster): Promise<void> {
  const res = await fetch(`${cluster.url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: 'unflinchingly bleak and desperate' }),
  });
  assert.equal(res.status, 200, await res.text());
}

describe('data-plane message limits', () => {
  it("bound a plan's frames by its hidden width, never below a link probe nor above the frame ceiling", () => {
    // 512 tokens × (256 floats + id + mask) is under a 2 MiB probe; bert-base is not.
    assert.equal(maxFrameBytesFor(256), (2 << 20) + 64 * 1024);
    assert.equal(maxFrameBytesFor(1024), 512 * (1024 * 4 + 16) + 64 * 1024);
    assert.equal(maxFrameBytesFor(0), FRAME_LIMITS.maxTokens * (FRAME_LIMITS.maxHidden * 4 + 16) + 64 * 1024);
    assert.ok(maxFrameBytesFor(0) <= FRAME_LIMITS.maxFrameBytes);
  });

  describe('on a real agent process', function () {
    this.timeout(120_000);
    let cluster: SimCluster;
    let address: string;
    let pid: number;

    before(async () => {
      cluster = await startSimCluster({
        model: FIXTURE_DIR,
        agents: 3,
        planFile: writePlan(FIXTURE_PLANS['pipeline-only']!),
      });
      // The link survey after the plan sends megabyte probes through the agents: let it finish, or its
      // buffers count as growth below.
      await cluster.coordinator.linksMeasured();
      address = cluster.coordinator.registry.get('agent-1')!.dataAddress;
      pid = cluster.agents[1]!.child.pid!;
    });
    after(async () => cluster?.stop());

    it('closes a connection that sends a 60 MB message before the handshake without reading it, and stays in its plan', async () => {
      const version = cluster.coordinator.activePlan!.version;
      const rssBefore = rssBytes(pid);
      const sockets = await Promise.all([0, 1, 2, 3].map(() => rawSocket(address)));
      // Generous: on a loaded machine the close can take seconds; what proves it was not read is the RSS below.
      const closed = sockets.map((ws) => closeCode(ws, 30_000));
      for (const ws of sockets) ws.send(Buffer.alloc(60 * MB, 0x91), { binary: true });
      // 1009: message too big, judged from the frame header.
      assert.deepEqual(await Promise.all(closed), [1009, 1009, 1009, 1009]);
      const grown = rssBytes(pid) - rssBefore;
      // Reading the four messages would take 240 MB. What a socket's buffers take in before the header is judged
      // varies (3-25 MB measured here on a quiet machine, 40 MB once under CI), so the bar is well below 240, not near 0.
      assert.ok(grown < 100 * MB, `the agent grew by ${(grown / MB).toFixed(0)} MB for four refused messages`);
      await classifyOk(cluster);
      assert.equal(cluster.coordinator.activePlan!.version, version, 'the agent was evicted or the plan changed');
      assert.ok(cluster.coordinator.registry.get('agent-1'));
    });

    it(`accepts a handshake-sized message (≤ ${HANDSHAKE_MAX_BYTES} bytes) but refuses one a byte larger`, async () => {
      const small = await rawSocket(address);
      const closedSmall = closeCode(small, 5000);
      // Not a valid hello: refused as unauthenticated (4401) after decoding, not as too big.
      small.send(Buffer.alloc(HANDSHAKE_MAX_BYTES, 0xc0), { binary: true });
      assert.equal(await closedSmall, 4401);
      const big = await rawSocket(address);
      const closedBig = closeCode(big, 5000);
      big.send(Buffer.alloc(HANDSHAKE_MAX_BYTES + 1, 0xc0), { binary: true });
      assert.equal(await closedBig, 1009);
    });

    it("after the handshake, takes frames up to the plan's limit and closes on a larger one", async () => {
      const { planVersion, key } = cluster.coordinator.dataPlaneKey!;
      const frames: Frame[] = [];
      // The prober's own limit is the ceiling, so only the agent's limit is under test.
      const link: Link = await dial(
        address,
        { role: 'coordinator', from: 'limit-test' },
        { planVersion, key, maxFrameBytes: 64 * MB },
        (f) => frames.push(f),
        () => undefined,
      );
      const limit = maxFrameBytesFor(256);
      link.send({ type: 'probe', requestId: 'limit-test-1', seq: 1, payload: new Uint8Array(2 << 20) });
      const deadline = Date.now() + 5000;
      while (!frames.some((f) => f.type === 'probe-echo') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok(
        frames.some((f) => f.type === 'probe-echo'),
        'a 2 MiB probe (within the limit) was not answered',
      );
      const closed = closeCode(link.socket, 5000);
      link.socket.send(Buffer.alloc(limit + 1), { binary: true });
      assert.equal(await closed, 1009);
      await classifyOk(cluster);
    });

    it(`refuses connections beyond ${MAX_PENDING_HANDSHAKES} waiting for their handshake, and serves again once they go`, async () => {
      const idle = await Promise.all(Array.from({ length: MAX_PENDING_HANDSHAKES }, () => rawSocket(address)));
      const extra = await rawSocket(address);
      assert.equal(await closeCode(extra, 5000), TRY_AGAIN_LATER);
      for (const ws of idle) ws.terminate();
      await new Promise((r) => setTimeout(r, 200));
      // The coordinator's own connections (and new ones) still get through.
      await classifyOk(cluster);
      const later = await rawSocket(address);
      const closedLater = closeCode(later, 8000);
      later.send(Buffer.alloc(10), { binary: true });
      assert.equal(await closedLater, 4401);
    });
  });
});

describe('the stats frame', () => {
  it("carries the failure, cache-corruption and queue-depth counters, and reads an older agent's frame without them as 0", () => {
    const base = {
      type: 'stats' as const,
      requestId: 'r',
      agent: 'a',
      stageRuns: 1,
      partialRuns: 2,
      earlyExits: 3,
      layersRun: 4,
      bytesSent: 5,
    };
    const sent = decodeFrame(encodeFrame({ ...base, failures: 7, cacheCorruptions: 2, stepsInFlight: 3 }));
    assert.ok(sent.type === 'stats');
    assert.equal(sent.failures, 7);
    assert.equal(sent.cacheCorruptions, 2);
    assert.equal(sent.stepsInFlight, 3);
    const older = decodeFrame(encodeFrame(base as Frame));
    assert.ok(older.type === 'stats');
    assert.equal(older.failures, 0);
    assert.equal(older.cacheCorruptions, 0);
    assert.equal(older.stepsInFlight, 0);
  });
});
