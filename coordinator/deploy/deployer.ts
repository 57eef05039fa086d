import type pino from 'pino';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import { planAgents, shardsForAgent } from '@edgerelay/device-agent';
import { specToMessage } from '@edgerelay/device-agent';
import type { AgentRegistry } from '../cluster/registry.js';
import { EdgeRelayError } from '@edgerelay/proto';
import type { ShardStore } from './shard-store.js';

export class DeployError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_DEPLOY';
}

export interface DeployProgress {
  /** Bytes of shards the agents do not have cached, i.e. what must cross the network. */
  start(totalBytes: number, agents: number): void;
  agentReady(agentId: string): void;
  stop(): void;
}

/**
 * Sends every agent of a plan its assignment and waits until all report the shards loaded.
 * Agents fetch what they lack over FetchShard; what they have cached by hash never travels again.
 */
export async function deployPlan(
  plan: Plan,
  registry: AgentRegistry,
  store: ShardStore,
  options: { timeoutMs: number; logger: pino.Logger; progress?: DeployProgress; dataPlaneKey: Uint8Array },
): Promise<void> {
  // Agents outside the plan get it too, with no shards: they hold its data-plane key, so they can
  // measure links, stand in after a failure, and be reached by their peers.
  const agents = [...new Set([...planAgents(plan), ...registry.connected().map((a) => a.id)])];
  let missingBytes = 0;
  const assignments = [];
  for (const id of agents) {
    const record = registry.get(id);
    if (!record?.stream) throw new DeployError(`Agent "${id}" of plan ${plan.version} is not connected.`);
    const shards = [];
    for (const spec of shardsForAgent(plan, id)) {
      shards.push(store.get(spec));
      // Compiling a big model takes seconds: let heartbeats and requests through between shards.
      await new Promise((r) => setImmediate(r));
    }
    for (const s of shards) if (!record.cachedShards.has(s.sha256)) missingBytes += s.bytes.byteLength;
    assignments.push({ record, shards });
  }
  options.progress?.start(missingBytes, agents.length);
  const ready = waitForAgents(plan.version, agents, registry, options.timeoutMs, options.progress);
  for (const { record, shards } of assignments) {
    record.loadingUntilMs = Date.now() + options.timeoutMs;
    record.stream!.write({
      plan,
      dataPlaneKey: options.dataPlaneKey,
      shards: shards.map((s) => ({ sha256: s.sha256, sizeBytes: s.bytes.byteLength, spec: specToMessage(s.spec) })),
    });
    // Once loaded, the agent has these cached: a redeploy to it costs nothing.
    for (const s of shards) record.cachedShards.add(s.sha256);
  }
  try {
    await ready;
  } finally {
    options.progress?.stop();
  }
  options.logger.info({ plan: plan.version, agents: agents.length, bytes: missingBytes }, 'plan deployed');
}

function waitForAgents(
  version: number,
  agents: string[],
  registry: AgentRegistry,
  timeoutMs: number,
  progress?: DeployProgress,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const pending = new Set(agents.filter((id) => (registry.get(id)?.readyVersion ?? 0) < version));
    const cleanup = () => {
      clearTimeout(timer);
      registry.off('ready', onReady);
      registry.off('changed', onChanged);
    };
    const onReady = (e: { id: string; version: number; ok: boolean }) => {
      if (e.version !== version || !pending.has(e.id)) return;
      if (!e.ok) {
        cleanup();
        return reject(
          new DeployError(
            `Agent "${e.id}" could not load plan ${version}: ${registry.get(e.id)?.loadError?.message ?? 'unknown error'}`,
          ),
        );
      }
      pending.delete(e.id);
      progress?.agentReady(e.id);
      if (pending.size === 0) {
        cleanup();
        resolve();
      }
    };
    const onChanged = (e: { left?: string }) => {
      if (e.left && pending.has(e.left)) {
        cleanup();
        reject(new DeployError(`Agent "${e.left}" left while plan ${version} was being deployed.`));
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new DeployError(
          `Plan ${version}: agents ${[...pending].join(', ')} did not load their shards within ${timeoutMs} ms.`,
        ),
      );
    }, timeoutMs);
    registry.on('ready', onReady);
    registry.on('changed', onChanged);
    if (pending.size === 0) {
      cleanup();
      resolve();
    }
  });
}
