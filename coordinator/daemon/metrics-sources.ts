import type { FrameOf } from '@edgerelay/proto';
import type { AgentRegistry } from '../cluster/registry.js';
import type { MetricsSources } from '../metrics/index.js';
import { agentStates } from './cluster-view.js';
import type { Dispatcher } from '../serving/dispatcher.js';

/** Reads the coordinator's live state for the metrics at scrape time. */
export function coordinatorMetricsSources(parts: {
  registry: AgentRegistry;
  dispatcher: Dispatcher;
  measuredLinks: ReadonlyMap<string, { bandwidthBytesPerSec: number; latencyMs: number }>;
  shardBytesSent: ReadonlyMap<string, number>;
}): MetricsSources {
  const { registry, dispatcher } = parts;
  return {
    inFlight: () => dispatcher.inFlight,
    planVersion: () => dispatcher.activePlan?.version,
    agents: () => agentStates(registry, dispatcher.activePlan),
    links: () => parts.measuredLinks.entries(),
    dataPlaneBytesSent: () => dispatcher.bytesSent,
    shardBytesSent: () => parts.shardBytesSent.entries(),
    async agentStats(timeoutMs) {
      const answers = await Promise.allSettled(
        registry.connected().map((a) => dispatcher.agentStats(a.id, a.dataAddress, timeoutMs)),
      );
      return answers.flatMap((a): FrameOf<'stats'>[] => (a.status === 'fulfilled' ? [a.value] : []));
    },
  };
}
