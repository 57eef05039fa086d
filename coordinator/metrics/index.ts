export {
  AGENT_STATES,
  CoordinatorMetrics,
  type AgentState,
  type MetricsSources,
  type RequestOutcomeLabel,
} from './coordinator-metrics.js';
export { RecentRequests, type RecentRequest, type RecentSummary } from './recent-requests.js';
