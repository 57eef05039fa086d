import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Coordinator } from '../coordinator/daemon/coordinator.js';
import { DeviceAgent } from '../device-agent/agent.js';
import { makeTinyModel } from './helpers/tiny-model.js';

describe('a draining agent', function () {
  this.timeout(120_000);

  it('leaves once and is not registered again while it drains, though heartbeats and the closed stream come and go', async () => {
    const model = await makeTinyModel({ layers: 2 });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-drain-'));
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
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 600,
    });
    try {
      await coordinator.start();
      const agent = new DeviceAgent({
        coordinator: `127.0.0.1:${coordinator.grpcPort}`,
        name: 'agent-0',
        listenPort: 0,
        listenHost: '127.0.0.1',
        advertiseHost: '127.0.0.1',
        threads: 1,
        dataDir: dir,
        logger: pino({ level: 'silent' }),
      });
      await agent.start();
      await coordinator.waitForPlan(60_000);
      const changes: { joined?: string; left?: string; graceful?: boolean }[] = [];
      coordinator.registry.on('changed', (e: (typeof changes)[number]) => changes.push(e));

      // Nothing is in flight, so the drain lasts its quiet spell (300 ms): three heartbeat intervals,
      // and the stream the coordinator ends on leave closes inside it.
      await agent.drain(2000);
      // The old code re-registered from a refused heartbeat or the closed stream half a second later.
      await new Promise((r) => setTimeout(r, 1000));

      assert.deepEqual(
        changes.map((e) => (e.joined ? `joined ${e.joined}` : `left ${e.left}${e.graceful ? ' gracefully' : ''}`)),
        ['left agent-0 gracefully'],
      );
      assert.equal(coordinator.registry.connected().length, 0);
    } finally {
      await coordinator.stop();
      rmSync(dir, { recursive: true, force: true });
      model.cleanup();
    }
  });
});
