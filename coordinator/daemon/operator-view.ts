import type { Plan__Output as Plan } from '@edgerelay/proto';
import { calibrationSvg, type CalibrationRecord } from '../calibration/index.js';
import type { AgentRegistry } from '../cluster/registry.js';
import type { Checkpoint } from '../checkpoint/types.js';
import { CoordinatorMetrics, RecentRequests } from '../metrics/index.js';
import type { Dispatcher } from '../serving/dispatcher.js';
import type { RequestObserver } from '../serving/cluster-backend.js';
import { clusterView, type AgentView, type ClusterView, type DepartedAgent } from './cluster-view.js';
import { coordinatorMetricsSources } from './metrics-sources.js';

/** What the operator sees of a coordinator: Prometheus metrics, recent answers and the cluster view. */
export interface OperatorView {
  readonly metrics: CoordinatorMetrics;
  readonly recent: RecentRequests;
  /** Feeds both the metrics and the recent answers; the cluster backend calls it for every text. */
  readonly observer: RequestObserver;
  view(): ClusterView;
  /** The calibration curves in use (SVG), or undefined when the deployment was not calibrated. */
  calibrationSvg(): Promise<string | undefined>;
}

/** Departed agents remembered for the page; the oldest are forgotten first. */
const MAX_DEPARTED = 64;

export function createOperatorView(parts: {
  registry: AgentRegistry;
  dispatcher: Dispatcher;
  measuredLinks: ReadonlyMap<string, { bandwidthBytesPerSec: number; latencyMs: number }>;
  shardBytesSent: ReadonlyMap<string, number>;
  modelId: string;
  checkpoint: Checkpoint;
  activePlan: () => Plan | undefined;
  calibration?: CalibrationRecord;
}): OperatorView {
  const metrics = new CoordinatorMetrics(coordinatorMetricsSources(parts));
  const recent = new RecentRequests();
  parts.dispatcher.on('unhealthy', () => metrics.observePlanFailure());
  // Agents that left stay on the operator's page as down, with their last known figures, until they return.
  const lastKnown = new Map<string, AgentView>();
  const departed = new Map<string, DepartedAgent>();
  parts.registry.on('changed', (e: { joined?: string; left?: string; reason?: string }) => {
    if (e.joined) departed.delete(e.joined);
    if (e.left)
      departed.set(e.left, {
        id: e.left,
        reason: e.reason ?? 'it left',
        atMs: Date.now(),
        last: lastKnown.get(e.left),
      });
    if (departed.size > MAX_DEPARTED) departed.delete(departed.keys().next().value!);
  });
  const { config, exitLayers } = parts.checkpoint;
  const model: ClusterView['model'] = {
    id: parts.modelId,
    numLayers: config.numLayers,
    numHeads: config.numHeads,
    hiddenSize: config.hiddenSize,
    exitLayers,
  };
  const view = (): ClusterView => {
    const v = clusterView({
      registry: parts.registry,
      plan: parts.activePlan(),
      model,
      measuredLinks: parts.measuredLinks,
      recent,
      departed: departed.values(),
    });
    const listed = new Set(v.agents.map((a) => a.id));
    for (const id of lastKnown.keys()) if (!listed.has(id)) lastKnown.delete(id);
    for (const a of v.agents) if (a.state !== 'down') lastKnown.set(a.id, a);
    return v;
  };
  return {
    metrics,
    recent,
    observer: {
      observeOutcome(o) {
        metrics.observeOutcome(o);
        recent.observeOutcome(o);
      },
      observeFailure: (kind, ms) => metrics.observeFailure(kind, ms),
      observeRetry: () => metrics.observeRetry(),
    },
    view,
    calibrationSvg: async () => (parts.calibration ? calibrationSvg(parts.calibration) : undefined),
  };
}
