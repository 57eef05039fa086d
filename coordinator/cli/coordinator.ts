import type { Command } from 'commander';
import { FLOAT_WIRE_DTYPES, type FloatWireDtype } from '@edgerelay/proto';
import pino from 'pino';
import { Coordinator } from '../daemon/coordinator.js';
import { parsePositiveInt } from './number-options.js';
import { deployProgressBar } from './progress.js';
import { loadCoordinatorDataPlaneTls, loadServerCredentials } from '../security/credentials.js';
import { API_KEY, CLUSTER_TOKEN, flagExposureWarning, resolveSecret } from '@edgerelay/device-agent';

export function parseProbability(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new Error(`expected a number between 0 and 1, got "${value}"`);
  return n;
}

export function parseWireDtype(value: string): FloatWireDtype {
  if (!(FLOAT_WIRE_DTYPES as readonly string[]).includes(value)) throw new Error('expected float32, float16 or int8');
  return value as FloatWireDtype;
}

export function registerCoordinator(program: Command): void {
  program
    .command('coordinator')
    .description('run the coordinator daemon: accept agents, plan, deploy shards, serve POST /v1/classify')
    .requiredOption('--model <dir>', 'Hugging Face model directory')
    .option('--port <port>', 'gRPC control-plane port agents connect to', parsePositiveInt, 50051)
    .option('--http-port <port>', 'HTTP client API port', parsePositiveInt, 8080)
    .option('--host <host>', 'interface to listen on', '0.0.0.0')
    .option('--plan <file>', 'use this plan (JSON) instead of planning by measured speed')
    .option('--min-agents <n>', 'plan once this many agents are connected', parsePositiveInt, 1)
    .option(
      '--exit-threshold <p>',
      'answer at an exit whose top probability reaches p (0: never exit early)',
      parseProbability,
      0,
    )
    .option(
      '--exit-policy <spec>',
      'exit policy: max-prob=P, entropy=T, patience=N, dact[=S], none, or calibrated (overrides --exit-threshold)',
    )
    .option(
      '--calibration <file>',
      'calibration file for --exit-policy calibrated (default: <model>/edgerelay-calibration.json)',
    )
    .option(
      '--ode-steps <k>',
      'parameter-shared (ALBERT) models: apply the shared layer K times per request',
      parsePositiveInt,
    )
    .option(
      '--token-pruning <spec>',
      'token pruning for requests that name none: keep=R0,R1,… (one ratio per layer), calibrated, or none',
    )
    .option(
      '--wire-dtype <dtype>',
      'hidden states between agents as float32, float16 or int8 (per-row scale)',
      parseWireDtype,
      'float32',
    )
    .option('--request-timeout <ms>', 'per-request deadline', parsePositiveInt, 30_000)
    .option(
      '--cluster-token <token>',
      'shared secret agents must prove to join (visible in ps: prefer --cluster-token-file or EDGERELAY_CLUSTER_TOKEN)',
    )
    .option('--cluster-token-file <file>', 'read the cluster token from this file (one trailing newline is ignored)')
    .option(
      '--api-key <key>',
      'require Authorization: Bearer <key> on the client API (visible in ps: prefer --api-key-file or EDGERELAY_API_KEY)',
    )
    .option('--api-key-file <file>', 'read the API key from this file (one trailing newline is ignored)')
    .option(
      '--tls-dir <dir>',
      'mutual TLS on the control plane with ca.pem, coordinator.pem, coordinator-key.pem from `edgerelay certs`',
    )
    .option('--max-in-flight <n>', 'requests in flight before the API answers 503', parsePositiveInt, 512)
    .option('--log-level <level>', 'pino log level', 'info')
    .action(
      async (opts: {
        model: string;
        port: number;
        httpPort: number;
        host: string;
        plan?: string;
        minAgents: number;
        exitThreshold: number;
        wireDtype: FloatWireDtype;
        requestTimeout: number;
        logLevel: string;
        clusterToken?: string;
        clusterTokenFile?: string;
        apiKey?: string;
        apiKeyFile?: string;
        maxInFlight: number;
        exitPolicy?: string;
        calibration?: string;
        tokenPruning?: string;
        tlsDir?: string;
        odeSteps?: number;
      }) => {
        const logger = pino({ name: 'coordinator', level: opts.logLevel }, pino.destination(2));
        const clusterToken = resolveSecret(CLUSTER_TOKEN, {
          flagValue: opts.clusterToken,
          file: opts.clusterTokenFile,
        });
        const apiKey = resolveSecret(API_KEY, { flagValue: opts.apiKey, file: opts.apiKeyFile });
        for (const [secret, spec] of [
          [clusterToken, CLUSTER_TOKEN],
          [apiKey, API_KEY],
        ] as const) {
          if (secret?.source === 'flag') logger.warn(flagExposureWarning(spec));
        }
        const coordinator = new Coordinator({
          modelDir: opts.model,
          host: opts.host,
          grpcPort: opts.port,
          httpPort: opts.httpPort,
          planFile: opts.plan,
          minAgents: opts.minAgents,
          settings: {
            exitThreshold: opts.exitThreshold,
            exitPolicy: opts.exitPolicy,
            wireDtype: opts.wireDtype,
            ...(opts.odeSteps !== undefined && { odeSteps: opts.odeSteps }),
          },
          calibrationFile: opts.calibration,
          ...(opts.tokenPruning && { tokenPruning: opts.tokenPruning }),
          requestTimeoutMs: opts.requestTimeout,
          deployTimeoutMs: 300_000,
          logger,
          progress: process.stderr.isTTY ? deployProgressBar() : undefined,
          clusterToken: clusterToken?.value,
          apiKey: apiKey?.value,
          maxInFlight: opts.maxInFlight,
          grpcCredentials: opts.tlsDir ? loadServerCredentials(opts.tlsDir) : undefined,
          dataPlaneTls: opts.tlsDir ? loadCoordinatorDataPlaneTls(opts.tlsDir) : undefined,
        });
        await coordinator.start();
        // Graceful drain: the HTTP server stops accepting, in-flight requests finish, then agents are released.
        const stop = (signal: string) => {
          logger.info({ signal }, 'draining, then stopping');
          coordinator.stop().finally(() => process.exit(0));
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      },
    );
}
