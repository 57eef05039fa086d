import type { FrameOf, Plan__Output as Plan } from '@edgerelay/proto';
import { planAgents } from '@edgerelay/device-agent';
import type { AgentRegistry } from '../cluster/registry.js';
import type { AgentState, MetricsSources } from '../metrics/index.js';
import type { Dispatcher } from '../serving/dispatcher.js';

/** Reads the coordinator's live state for the metrics at scrape time. */
export function coordinatorMetricsSources(parts: {
  registry: AgentRegistry;
  dispatcher: Dispatcher;
  measuredLinks: ReadonlyMap<string, { bandwidthBytesPerSec: number; latencyMs: number }>;
}): MetricsSources {
  const { registry, dispatcher } = parts;
  return {
    inFlight: () => dispatcher.inFlight,
    planVersion: () => dispatcher.activePlan?.version,
    agents: () => agentStates(registry, dispatcher.activePlan),
    links: () => parts.measuredLinks.entries(),
    dataPlaneBytesSent: () => dispatcher.bytesSent,
    async agentStats(timeoutMs) {
      const answers = await Promise.allSettled(
        registry.connected().map((a) => dispatcher.agentStats(a.id, a.dataAddress, timeoutMs)),
      );
      return answers.flatMap((a): FrameOf<'stats'>[] => (a.status === 'fulfilled' ? [a.value] : []));
    },
  };
}

function agentStates(registry: AgentRegistry, plan: Plan | undefined): { id: string; state: AgentState }[] {
  const inPlan = new Set(plan ? planAgents(plan) : []);
  const connected = registry.connected();
  const states = connected.map((a): { id: string; state: AgentState } => {
    if (!inPlan.has(a.id)) return { id: a.id, state: 'standby' };
    return { id: a.id, state: a.readyVersion >= plan!.version ? 'serving' : 'loading' };
  });
  const here = new Set(connected.map((a) => a.id));
  for (const id of inPlan) if (!here.has(id)) states.push({ id, state: 'down' });
  return states;
}
