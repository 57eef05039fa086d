import type * as grpc from '@grpc/grpc-js';
import type pino from 'pino';
import type { DataPlaneTls } from '@edgerelay/proto';
import type { DeployProgress } from '../deploy/deployer.js';
import type { PlanSettings } from '../planning/index.js';

export interface CoordinatorOptions {
  modelDir: string;
  host: string;
  grpcPort: number;
  httpPort: number;
  planFile?: string;
  /** Plan as soon as this many agents are connected (ignored with a plan file: its agents are waited for). */
  minAgents: number;
  settings: PlanSettings;
  requestTimeoutMs: number;
  deployTimeoutMs: number;
  /** Agents heartbeat this often; one silent for heartbeatTimeoutMs is considered dead. */
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** Requests in flight at once before the API answers 503. */
  maxInFlight?: number;
  /** Shared secret agents must prove to join; undefined runs an open cluster (with a warning). */
  clusterToken?: string;
  /** Clients must send `Authorization: Bearer <apiKey>` when set. */
  apiKey?: string;
  /** What the planner optimises (default latency). */
  objective?: 'latency' | 'throughput';
  /** Sequence length the planner sizes work for (default: min(128, max positions)). */
  planSeqLen?: number;
  /** Link between two agents, e.g. from a cluster file; gigabit when absent. */
  links?: (a: string, b: string) => { bandwidthBytesPerSec: number; latencyMs: number } | undefined;
  /** Calibration file for `exitPolicy: 'calibrated'` (default: <model>/edgerelay-calibration.json). */
  calibrationFile?: string;
  /** Token pruning for requests that name none: "keep=…", "calibrated" or "none" (default none). */
  tokenPruning?: string;
  /** gRPC server credentials (mutual TLS); insecure when undefined. */
  grpcCredentials?: grpc.ServerCredentials;
  /** Data-plane credentials: dial the agents over wss with mutual TLS; plain ws when undefined. */
  dataPlaneTls?: DataPlaneTls;
  maxLength?: number;
  logger: pino.Logger;
  progress?: DeployProgress;
}
