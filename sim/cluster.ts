import { randomBytes } from 'node:crypto';
import type { FloatWireDtype } from '@edgerelay/proto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import { Coordinator } from '@edgerelay/coordinator';
import type { DeployProgress } from '@edgerelay/coordinator';
import { loadCoordinatorDataPlaneTls, loadServerCredentials } from '@edgerelay/coordinator';
import { HostSpeed } from '@edgerelay/device-agent';
import { startAgentProcess, type AgentProcess } from './agent-process.js';

export interface SimClusterOptions {
  model: string;
  agents: number;
  planFile?: string;
  threads?: number;
  exitThreshold?: number;
  exitPolicy?: string;
  /** Parameter-shared models: the deployment's ODE steps K. */
  odeSteps?: number;
  calibrationFile?: string;
  /** Token pruning for requests that name none: "keep=…", "calibrated" or "none". */
  tokenPruning?: string;
  wireDtype?: FloatWireDtype;
  /** Agent names; defaults to agent-0, agent-1, ... */
  names?: string[];
  /** Emulated devices (names, speeds, links), one agent each; overrides `agents` and `names`. */
  devices?: EmulatedDevice[];
  logLevel?: string;
  requestTimeoutMs?: number;
  progress?: DeployProgress;
  readyTimeoutMs?: number;
  /** Cluster token; a random one by default, so even a simulated cluster only admits its own agents. */
  clusterToken?: string;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  maxInFlight?: number;
  apiKey?: string;
  /** Mutual TLS on the control plane from this `edgerelay certs` directory (its agents' names must match). */
  tlsDir?: string;
}

export interface EmulatedDevice {
  name: string;
  gflops: number;
  memoryMB?: number;
  /** gigabit, wifi, or <Mbit/s>:<latency ms> */
  link?: string;
}

let machineReference: Promise<number> | undefined;

/**
 * The fastest reference speed this machine shows, sampled once per process for every agent launched
 * (device-agent/host-speed.ts): each agent goes on tracking it, starting here, so a busy agent does not
 * stretch against a slow moment of its own start-up.
 */
function machineReferenceGflops(): Promise<number> {
  machineReference ??= (async () => {
    const speed = await HostSpeed.start(1, { initialSamples: 150 });
    await speed.release();
    return speed.gflops;
  })();
  return machineReference;
}

function emulationArgs(device: EmulatedDevice | undefined, seedGflops: number, calibrationDir: string): string[] {
  if (!device) return [];
  return [
    '--emulate-calibration-dir',
    calibrationDir,
    '--emulate-gflops',
    String(device.gflops),
    '--emulate-reference-seed-gflops',
    String(seedGflops),
    ...(device.memoryMB ? ['--emulate-memory-mb', String(device.memoryMB)] : []),
    ...(device.link ? ['--emulate-link', device.link] : []),
  ];
}

export interface SimCluster {
  coordinator: Coordinator;
  clusterToken: string;
  dataDir: string;
  agents: AgentProcess[];
  url: string;
  plan: Plan;
  stop(): Promise<void>;
}

/** A coordinator in this process and N real agent processes on loopback, with a plan deployed. */
export async function startSimCluster(options: SimClusterOptions): Promise<SimCluster> {
  const logger = pino({ name: 'coordinator', level: options.logLevel ?? 'warn' }, pino.destination(2));
  const clusterToken = options.clusterToken ?? randomBytes(16).toString('hex');
  const coordinator = new Coordinator({
    modelDir: options.model,
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    planFile: options.planFile,
    minAgents: options.devices?.length ?? options.agents,
    settings: {
      exitThreshold: options.exitThreshold ?? 0,
      exitPolicy: options.exitPolicy,
      wireDtype: options.wireDtype ?? 'float32',
      ...(options.odeSteps !== undefined && { odeSteps: options.odeSteps }),
    },
    calibrationFile: options.calibrationFile,
    ...(options.tokenPruning && { tokenPruning: options.tokenPruning }),
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    deployTimeoutMs: 120_000,
    logger,
    progress: options.progress,
    clusterToken,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 400,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 1200,
    maxInFlight: options.maxInFlight,
    apiKey: options.apiKey,
    grpcCredentials: options.tlsDir ? loadServerCredentials(options.tlsDir) : undefined,
    dataPlaneTls: options.tlsDir ? loadCoordinatorDataPlaneTls(options.tlsDir) : undefined,
  });
  await coordinator.start();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'edgerelay-sim-'));
  const devices = new Map((options.devices ?? []).map((d) => [d.name, d]));
  const seed = devices.size > 0 ? await machineReferenceGflops() : 0;
  const names =
    options.devices?.map((d) => d.name) ??
    options.names ??
    Array.from({ length: options.agents }, (_, i) => `agent-${i}`);
  const agents = names.map((name) =>
    startAgentProcess({
      name,
      coordinator: `127.0.0.1:${coordinator.grpcPort}`,
      dataDir,
      threads: options.threads ?? 1,
      logLevel: options.logLevel,
      clusterToken,
      extraArgs: [
        ...emulationArgs(devices.get(name), seed, path.join(dataDir, 'emulation-calibration')),
        ...(options.tlsDir ? ['--tls-dir', options.tlsDir] : []),
      ],
    }),
  );
  const stop = async () => {
    // The coordinator goes first, so agents shutting down are not mistaken for failures.
    await coordinator.stop();
    for (const a of agents) a.child.kill('SIGTERM');
    // A child killed by a signal has a signalCode and no exitCode.
    const exited = (a: AgentProcess) => a.child.exitCode !== null || a.child.signalCode !== null;
    await Promise.all(agents.map((a) => new Promise((r) => (exited(a) ? r(null) : a.child.once('exit', r)))));
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await Promise.all(agents.map((a) => a.ready));
    const plan = await coordinator.waitForPlan(options.readyTimeoutMs ?? 120_000);
    return { coordinator, clusterToken, dataDir, agents, url: coordinator.httpUrl, plan, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
