import type { Plan__Output as Plan } from '@edgerelay/proto';
import type { AgentRegistry } from '../cluster/registry.js';
import { CoordinatorMetrics, RecentRequests } from '../metrics/index.js';
import type { Dispatcher } from '../serving/dispatcher.js';
import type { RequestObserver } from '../serving/cluster-backend.js';
import { clusterView, type ClusterView } from './cluster-view.js';
import { coordinatorMetricsSources } from './metrics-sources.js';

/** What the operator sees of a coordinator: Prometheus metrics, recent answers and the cluster view. */
export interface OperatorView {
  readonly metrics: CoordinatorMetrics;
  readonly recent: RecentRequests;
  /** Feeds both the metrics and the recent answers; the cluster backend calls it for every text. */
  readonly observer: RequestObserver;
  view(): ClusterView;
}

export function createOperatorView(parts: {
  registry: AgentRegistry;
  dispatcher: Dispatcher;
  measuredLinks: ReadonlyMap<string, { bandwidthBytesPerSec: number; latencyMs: number }>;
  shardBytesSent: ReadonlyMap<string, number>;
  model: ClusterView['model'];
  activePlan: () => Plan | undefined;
}): OperatorView {
  const metrics = new CoordinatorMetrics(coordinatorMetricsSources(parts));
  const recent = new RecentRequests();
  parts.dispatcher.on('unhealthy', () => metrics.observePlanFailure());
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
    view: () =>
      clusterView({
        registry: parts.registry,
        plan: parts.activePlan(),
        model: parts.model,
        measuredLinks: parts.measuredLinks,
        recent,
      }),
  };
}
