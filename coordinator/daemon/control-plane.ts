import type * as grpc from '@grpc/grpc-js';
import { ClusterAuth } from '../cluster/auth.js';
import { controlHandlers, startControlServer } from '../cluster/control-service.js';
import type { AgentRegistry } from '../cluster/registry.js';
import type { ShardStore } from '../deploy/shard-store.js';
import type { CoordinatorOptions } from './options.js';

/**
 * The coordinator's gRPC control plane: cluster-token authentication, the registry's handlers, and shard
 * streaming that tallies the bytes sent to each agent into `shardBytesSent`.
 */
export async function startCoordinatorControl(
  options: CoordinatorOptions,
  registry: AgentRegistry,
  store: ShardStore,
  shardBytesSent: Map<string, number>,
): Promise<{ server: grpc.Server; port: number; heartbeatIntervalMs: number; heartbeatTimeoutMs: number }> {
  const { logger } = options;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
  if (!options.clusterToken)
    logger.warn('no cluster token: any agent that can reach the control port may join (set --cluster-token)');
  const shardSource = {
    shardBytes: (sha: string) => store.bytes(sha),
    onShardSent: (agent: string, bytes: number) => shardBytesSent.set(agent, (shardBytesSent.get(agent) ?? 0) + bytes),
  };
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 3 * heartbeatIntervalMs;
  const handlers = controlHandlers(registry, shardSource, {
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    logger,
    auth: new ClusterAuth(options.clusterToken),
  });
  const control = await startControlServer(options.host, options.grpcPort, handlers, options.grpcCredentials);
  return { ...control, heartbeatIntervalMs, heartbeatTimeoutMs };
}
