import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Assignment__Output as Assignment, Plan__Output as Plan } from '../proto/control.js';
import type { ControlClient } from '../device-agent/control-client.js';
import { AssignmentLoader } from '../device-agent/plan/assignment-loader.js';
import type { ShardSession } from '../device-agent/runtime/index.js';
import { sha256Hex, ShardCache } from '../device-agent/shard-cache.js';
import { decodeFrame, encodeFrame, FrameError, type Frame } from '../proto/frames.js';

describe('agent: a shared layer is fetched and loaded once', function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-albert-agent-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('slots whose shards have the same bytes share one fetch and one session, released once', async () => {
    const bytes = new TextEncoder().encode('shared layer group 0');
    const sha256 = sha256Hex(bytes);
    const fetched: string[] = [];
    const created: { released: number }[] = [];
    let ready = false;
    const control = {
      fetchShard: async (_agent: string, sha: string) => (fetched.push(sha), bytes),
      reportReady: async (r: { ok: boolean }) => void (ready = r.ok),
    } as unknown as ControlClient;
    const loader = new AssignmentLoader({
      cache: new ShardCache(dir),
      control: () => control,
      agentId: () => 'a1',
      createSession: async () => {
        const record = { released: 0 };
        created.push(record);
        return { release: async () => void record.released++ } as unknown as ShardSession;
      },
      maxShardBytes: 1 << 20,
      logger: pino({ level: 'silent' }),
      onPlanLoaded: () => undefined,
    });
    const plan = {
      version: 1,
      stages: [],
      endpoints: [],
      exitLayers: [],
      numLayers: 3,
      hiddenSize: 8,
    } as unknown as Plan;
    const layer = (l: number) => ({
      sha256,
      sizeBytes: bytes.byteLength,
      spec: { kind: 'layers', start: l, end: l + 1 },
    });
    loader.enqueue({
      plan,
      dataPlaneKey: Buffer.alloc(32, 1),
      shards: [layer(0), layer(1), layer(2)],
    } as unknown as Assignment);
    const deadline = Date.now() + 5000;
    while (!ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.ok(ready);
    assert.deepEqual(fetched, [sha256]);
    assert.equal(created.length, 1);
    const loaded = loader.current(1);
    assert.equal(
      loaded.session({ kind: 'layers', start: 0, end: 1 }),
      loaded.session({ kind: 'layers', start: 2, end: 3 }),
    );
    await loader.release();
    assert.equal(created[0]!.released, 1);
  });
});

describe('stage-input frames: odeSteps', function () {
  const frame = (odeSteps?: unknown) =>
    ({
      type: 'stage-input',
      requestId: 'r1',
      planVersion: 1,
      stage: 0,
      inputIds: { dtype: 'int64', shape: [1, 2], data: new Uint8Array(16) },
      attentionMask: { dtype: 'int64', shape: [1, 2], data: new Uint8Array(16) },
      exitPolicy: 'none',
      exitState: {},
      trace: [],
      ...(odeSteps !== undefined && { odeSteps }),
    }) as unknown as Frame;

  it('carries a positive integer step count and refuses anything else', function () {
    assert.equal((decodeFrame(encodeFrame(frame(3))) as { odeSteps?: number }).odeSteps, 3);
    assert.equal((decodeFrame(encodeFrame(frame())) as { odeSteps?: number }).odeSteps, undefined);
    for (const bad of [0, -1, 2.5, 1e6, 'three']) {
      assert.throws(() => decodeFrame(encodeFrame(frame(bad))), FrameError, `odeSteps ${String(bad)}`);
    }
  });
});
