export { AgentRegistry, type AgentRecord } from './registry.js';
export { ClusterAuth } from './auth.js';
export {
  controlHandlers,
  startControlServer,
  type ControlServiceOptions,
  type ShardSource,
} from './control-service.js';
