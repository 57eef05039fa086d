import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Frame, FrameOf } from '../proto/frames.js';
import type { Assignment__Output as Assignment, Plan__Output as Plan, ReadyReport } from '../proto/control.js';
import type { ControlClient } from '../device-agent/control-client.js';
import { dial, type DataPlaneCounters } from '../proto/data-plane/link.js';
import { maxFrameBytesFor } from '../proto/data-plane/limits.js';
import { DataPlaneServer } from '../device-agent/data-plane/server.js';
import { waitUntilQuiet } from '../device-agent/drain.js';
import { LinkShaper } from '../device-agent/emulation.js';
import { StepAdmission } from '../device-agent/executor/admission.js';
import { AgentStats } from '../device-agent/executor/stats.js';
import { AssignmentLoader } from '../device-agent/plan/assignment-loader.js';
import type { ShardSession } from '../device-agent/runtime/index.js';
import { sha256Hex, ShardCache } from '../device-agent/shard-cache.js';

const silent = pino({ level: 'silent' });

describe('agent parts: step admission', () => {
  const options = { agentName: 'a1', maxQueuedRequests: 2 };

  it('refuses steps over the limit with a retryable error naming the agent, and counts in-flight steps', async () => {
    const admission = new StepAdmission(options, new AgentStats());
    const replies: FrameOf<'error'>[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const running = [
      admission.guard(
        'r1',
        1,
        () => blocked,
        (f) => replies.push(f),
      ),
      admission.guard(
        'r2',
        1,
        () => blocked,
        (f) => replies.push(f),
      ),
    ];
    assert.equal(admission.inFlight, 2);
    await admission.guard(
      'r3',
      1,
      async () => assert.fail('must not run'),
      (f) => replies.push(f),
    );
    assert.deepEqual(replies, [
      { type: 'error', requestId: 'r3', planVersion: 1, message: 'a1: overloaded: 2 steps queued', retryable: true },
    ]);
    release();
    await Promise.all(running);
    assert.equal(admission.inFlight, 0);
  });

  it('turns a failed step into an error frame and counts the failure', async () => {
    const stats = new AgentStats();
    const admission = new StepAdmission(options, stats);
    const replies: FrameOf<'error'>[] = [];
    await admission.guard(
      'r1',
      4,
      async () => Promise.reject(new Error('no such shard')),
      (f) => replies.push(f),
    );
    assert.deepEqual(replies, [
      { type: 'error', requestId: 'r1', planVersion: 4, message: 'a1: no such shard', retryable: true },
    ]);
    assert.equal(stats.failures, 1);
    assert.equal(admission.inFlight, 0);
  });

  it('refuses every step once closed (draining)', async () => {
    const admission = new StepAdmission(options, new AgentStats());
    admission.close();
    const replies: FrameOf<'error'>[] = [];
    await admission.guard(
      'r1',
      1,
      async () => assert.fail('must not run'),
      (f) => replies.push(f),
    );
    assert.equal(replies[0]!.message, 'a1: agent is shutting down');
  });

  it('drain waits for in-flight steps to finish, then for a quiet spell', async () => {
    let inFlight = 1;
    setTimeout(() => (inFlight = 0), 100);
    const started = Date.now();
    await waitUntilQuiet(() => inFlight, 5000);
    // Quiet counts from the last poll (every 50 ms) that saw a step in flight: 300 ms after it.
    const took = Date.now() - started;
    assert.ok(took >= 50 + 300 && took < 2000, `${took} ms`);
  });
});

describe('agent parts: link options are per owner, not per process', () => {
  const key = new Uint8Array(32).fill(3);

  it('counts bytes on the counters each side was given, and shapes only the shaped side', async () => {
    const serverCounters: DataPlaneCounters = { bytesSent: 0 };
    const received: { frame: Frame; at: number }[] = [];
    const server = await DataPlaneServer.start({
      host: '127.0.0.1',
      port: 0,
      keys: (v) => (v === 1 ? { key, maxFrameBytes: maxFrameBytesFor(8) } : undefined),
      onFrame: (frame) => received.push({ frame, at: performance.now() }),
      onBadFrame: () => undefined,
      onRejected: () => undefined,
      onClosed: () => undefined,
      link: { counters: serverCounters },
    });
    const dialCounters: DataPlaneCounters = { bytesSent: 0 };
    const shaped = new LinkShaper({ bandwidthBytesPerSec: 1e9, latencyMs: 150 });
    try {
      const link = await dial(
        `127.0.0.1:${server.port}`,
        { role: 'agent', from: 'shaped' },
        { planVersion: 1, key },
        () => undefined,
        () => undefined,
        {
          counters: dialCounters,
          shaper: shaped,
        },
      );
      const sent = performance.now();
      link.send({ type: 'probe-echo', requestId: 'x', seq: 1 });
      const deadline = Date.now() + 5000;
      while (!received.some((r) => r.frame.type === 'probe-echo') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      const echo = received.find((r) => r.frame.type === 'probe-echo');
      assert.ok(echo, 'the shaped frame arrived');
      assert.ok(echo.at - sent >= 140, `held back ${(echo.at - sent).toFixed(0)} ms by the emulated latency`);
      assert.equal(dialCounters.bytesSent, link.bytesSent);
      assert.ok(dialCounters.bytesSent > 0);
      assert.ok(serverCounters.bytesSent > 0, 'the server counted its challenge');
      assert.notEqual(serverCounters.bytesSent, dialCounters.bytesSent);
      link.close();
    } finally {
      await server.close();
    }
  });
});

describe('agent parts: assignment loader', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-loader-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const shard = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    return { bytes, sha256: sha256Hex(bytes) };
  };
  const plan = (version: number): Plan => ({
    version,
    modelId: 'm',
    stages: [],
    endpoints: [{ agentId: 'a1', dataAddress: '127.0.0.1:1' }] as Plan['endpoints'],
    exit: null,
    numLabels: 2,
    exitLayers: [],
    wireDtype: 'float32',
    numLayers: 1,
    hiddenSize: 8,
  });
  const assignment = (version: number, shards: { sha256: string; bytes: Uint8Array }[]): Assignment =>
    ({
      plan: plan(version),
      dataPlaneKey: Buffer.alloc(32, version),
      shards: shards.map((s, i) => ({
        sha256: s.sha256,
        sizeBytes: s.bytes.byteLength,
        spec: { kind: 'head', layer: i },
      })),
    }) as unknown as Assignment;

  function setup(fetchable: Map<string, Uint8Array>) {
    const reports: ReadyReport[] = [];
    const fetched: string[] = [];
    const created: { model: string; released: boolean }[] = [];
    const loaded: number[] = [];
    const control = {
      fetchShard: async (_agent: string, sha: string) => {
        fetched.push(sha);
        const b = fetchable.get(sha);
        if (!b) throw new Error(`no shard ${sha.slice(0, 8)}`);
        return b;
      },
      reportReady: async (r: ReadyReport) => void reports.push(r),
    } as unknown as ControlClient;
    const loader = new AssignmentLoader({
      cache: new ShardCache(dir),
      control: () => control,
      agentId: () => 'a1',
      createSession: async (model) => {
        const record = { model: new TextDecoder().decode(model), released: false };
        created.push(record);
        return { release: async () => void (record.released = true) } as unknown as ShardSession;
      },
      maxShardBytes: 1 << 20,
      logger: silent,
      onPlanLoaded: (p) => loaded.push(p.version),
    });
    /** Assignments apply in turn, in the background: wait until `n` of them reported. */
    const settled = async (n: number) => {
      const deadline = Date.now() + 5000;
      while (reports.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };
    return { loader, reports, fetched, created, loaded, settled };
  }

  it('fetches, caches and loads the shards, swaps the plan in and reports ready; the next plan reuses shared shards', async () => {
    const a = shard('shard a');
    const b = shard('shard b');
    const t = setup(
      new Map([
        [a.sha256, a.bytes],
        [b.sha256, b.bytes],
      ]),
    );
    assert.equal(t.loader.version, 0);
    assert.equal(t.loader.dialKey(), undefined);
    t.loader.enqueue(assignment(1, [a]));
    t.loader.enqueue(assignment(2, [a, b]));
    await t.settled(2);
    assert.deepEqual(t.fetched, [a.sha256, b.sha256], 'shard a was fetched once, then reused');
    assert.deepEqual(
      t.created.map((c) => c.model),
      ['shard a', 'shard b'],
    );
    assert.deepEqual(
      t.reports.map((r) => [r.planVersion, r.ok]),
      [
        [1, true],
        [2, true],
      ],
    );
    assert.deepEqual(t.loaded, [1, 2]);
    assert.equal(t.loader.version, 2);
    assert.equal(t.loader.current(2).version, 2);
    assert.equal(t.loader.current(1).version, 1, 'the replaced plan still serves during its grace period');
    assert.ok(t.loader.admission(1) && t.loader.admission(2));
    assert.equal(t.loader.admission(3), undefined);
    assert.throws(() => t.loader.current(3), /request is for plan 3 but this agent runs plan 2/);
    assert.equal(t.loader.dialKey()?.planVersion, 2);
    await t.loader.release();
    assert.deepEqual(
      t.created.map((c) => c.released),
      [true, true],
    );
  });

  it('reports a plan it cannot load as failed, releases what it loaded of it, and keeps the old one', async () => {
    const a = shard('shard a');
    const b = shard('shard b');
    const missing = shard('missing');
    const t = setup(
      new Map([
        [a.sha256, a.bytes],
        [b.sha256, b.bytes],
      ]),
    );
    t.loader.enqueue(assignment(1, [a]));
    t.loader.enqueue(assignment(2, [b, missing]));
    await t.settled(2);
    assert.deepEqual(
      t.reports.map((r) => [r.planVersion, r.ok]),
      [
        [1, true],
        [2, false],
      ],
    );
    assert.match(t.reports[1]!.error!, /no shard/);
    assert.deepEqual(
      t.created.map((c) => [c.model, c.released]),
      [
        ['shard a', false],
        ['shard b', true],
      ],
    );
    assert.equal(t.loader.version, 1);
    await t.loader.release();
  });
});
