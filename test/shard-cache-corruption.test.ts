import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Coordinator } from '../coordinator/daemon/coordinator.js';
import { DeviceAgent } from '../device-agent/agent.js';
import { ShardCache } from '../device-agent/shard-cache.js';
import { makeTinyModel } from './helpers/tiny-model.js';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A pino logger whose JSON lines land in `records`. */
function capturingLogger(): { logger: pino.Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), records };
}

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at]! ^= 0xff;
  writeFileSync(file, bytes);
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a corrupted cached shard', function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-corrupt-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is logged as a warning naming the file and both hashes, and counted', () => {
    const { logger, records } = capturingLogger();
    const cache = new ShardCache(dir, { logger });
    const bytes = randomBytes(4096);
    const key = sha(bytes);
    cache.put(key, bytes);
    const file = path.join(dir, `${key}.onnx`);
    flipByte(file, 10);
    const actual = sha(readFileSync(file));

    assert.equal(cache.get(key), undefined);
    assert.equal(cache.corruptions, 1);
    assert.equal(records.length, 1);
    const warning = records[0]!;
    assert.equal(warning.level, 40); // pino's warn
    assert.equal(warning.file, file);
    assert.equal(warning.expectedSha256, key);
    assert.equal(warning.actualSha256, actual);
    assert.match(String(warning.msg), new RegExp(`${file}.*${actual}.*${key}`));
  });

  it('found by an agent on restart is reported in its stats and logs, then downloaded again', async () => {
    const model = await makeTinyModel({ layers: 2 });
    const coordinator = new Coordinator({
      modelDir: model.dir,
      host: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      minAgents: 1,
      settings: { exitThreshold: 0, wireDtype: 'float32' },
      requestTimeoutMs: 10_000,
      deployTimeoutMs: 60_000,
      logger: pino({ level: 'silent' }),
      heartbeatIntervalMs: 200,
      heartbeatTimeoutMs: 600,
    });
    const agentOptions = (logger: pino.Logger) => ({
      coordinator: `127.0.0.1:${coordinator.grpcPort}`,
      name: 'agent-0',
      listenPort: 0,
      listenHost: '127.0.0.1',
      advertiseHost: '127.0.0.1',
      threads: 1,
      dataDir: dir,
      logger,
    });
    let second: DeviceAgent | undefined;
    try {
      await coordinator.start();
      const first = new DeviceAgent(agentOptions(pino({ level: 'silent' })));
      await first.start();
      const plan = await coordinator.waitForPlan(60_000);
      await first.drain(500);
      await waitFor(() => coordinator.registry.connected().length === 0, 10_000, 'the coordinator to drop the agent');

      const shards = readdirSync(dir).filter((f) => f.endsWith('.onnx'));
      assert.ok(shards.length > 0, 'the first run cached its shards');
      const victim = path.join(dir, shards[0]!);
      const expected = shards[0]!.slice(0, -'.onnx'.length);
      flipByte(victim, Math.floor(statSync(victim).size / 2));
      const actual = sha(readFileSync(victim));

      const { logger, records } = capturingLogger();
      second = new DeviceAgent(agentOptions(logger));
      await second.start();
      await waitFor(() => second!.statsSnapshot().cacheCorruptions > 0, 60_000, 'the agent to find the corrupt shard');
      assert.equal(second.statsSnapshot().cacheCorruptions, 1);
      const warning = records.find((r) => r.file === victim);
      assert.ok(warning, `no warning names ${victim}: ${JSON.stringify(records)}`);
      assert.equal(warning.expectedSha256, expected);
      assert.equal(warning.actualSha256, actual);
      // Downloaded again: the cache holds the right bytes under the same name.
      await waitFor(
        () => {
          try {
            return sha(readFileSync(victim)) === expected;
          } catch {
            return false;
          }
        },
        60_000,
        'the shard to be downloaded again',
      );
      // The counter reaches the coordinator over the data plane (the stats frame used to drop it).
      // The last agent left gracefully, so the old plan stayed; the returning agent gets a new one.
      await waitFor(
        () =>
          (coordinator.activePlan?.version ?? 0) > plan.version &&
          coordinator.activePlan!.endpoints.some((e) => e.agentId === 'agent-0'),
        60_000,
        'the agent back in a new plan',
      );
      // Asked over the data plane; on a loaded machine the first question may time out: ask again.
      let reported: Awaited<ReturnType<Coordinator['agentStats']>> | undefined;
      for (let attempt = 0; !reported; attempt++) {
        reported = await coordinator.agentStats('agent-0').catch((err: Error) => {
          if (attempt >= 2) throw err;
          return undefined;
        });
      }
      assert.equal(reported.cacheCorruptions, 1);
      assert.equal(reported.failures, 0);
    } finally {
      await second?.stop();
      await coordinator.stop();
      model.cleanup();
    }
  });
});
