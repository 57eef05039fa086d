import { readFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import WebSocket from 'ws';
import { startAgentProcess } from './agent-process.js';
import { classifyOutcome, countOutcome, type OutcomeCounts } from './outcome.js';
import type { SimCluster } from './cluster.js';

export interface SoakOptions {
  minutes: number;
  concurrency: number;
  texts: string[];
  /** Exit policies the requests rotate through (the API's parameters.exit_policy). */
  policies: string[];
  /** Final-exit answers of the single-node reference, checked for requests under policy "none". */
  expected?: Map<string, { label: string; score: number }>;
  /** How long a stalled agent stays stopped: past the coordinator's heartbeat allowance. */
  stallMs: number;
  /** false: the same load and sampling with no fault at all (the control run for memory trends). */
  injectFaults?: boolean;
  /** Size of the unauthenticated message sent to an agent's data plane. */
  oversizedBytes?: number;
  onMinute?: (minute: SoakMinute) => void;
}

export interface SoakMinute extends OutcomeCounts {
  minute: number;
  planActivations: number;
  /** Peak resident memory in MB by process name (coordinator, agent-0, ...). */
  peakRssMB: Record<string, number>;
  /** Worst event-loop delay of the coordinator process this minute (a busy machine shows here). */
  coordinatorLoopDelayMaxMs: number;
  loadAverage: number;
  faults: string[];
}

export interface SoakReport extends OutcomeCounts {
  requests: number;
  faults: number;
  planActivations: number;
  minutes: SoakMinute[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb ?? 0) / 1024;
  } catch {
    return 0; // the process is gone (killed by the soak itself)
  }
}

/** One unauthenticated oversized message to a data-plane address; resolves with the close code. */
function sendOversized(address: string, bytes: number): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://${address}`, { perMessageDeflate: false });
    const timer = setTimeout(() => (ws.terminate(), resolve(-1)), 10_000);
    ws.once('open', () => ws.send(Buffer.alloc(bytes, 0x91), { binary: true }));
    ws.once('error', () => undefined);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * Steady mixed load on a simulated cluster while, every minute, one agent is killed (and restarted),
 * one is stalled past the heartbeat allowance, and one oversized message is sent to an agent's data
 * plane before any handshake. Counts outcomes, plan activations and per-process peak memory by minute.
 */
export async function runSoak(cluster: SimCluster, options: SoakOptions): Promise<SoakReport> {
  const report: SoakReport = {
    requests: 0,
    answered: 0,
    degraded: 0,
    failedRetryable: 0,
    lost: 0,
    wrong: 0,
    faults: 0,
    planActivations: 0,
    minutes: [],
  };
  const endAt = Date.now() + options.minutes * 60_000;
  const version = () => cluster.coordinator.activePlan?.version ?? 0;
  let minute = newMinute(0);
  let next = 0;

  function newMinute(n: number): SoakMinute {
    return {
      minute: n,
      answered: 0,
      degraded: 0,
      failedRetryable: 0,
      lost: 0,
      wrong: 0,
      planActivations: 0,
      peakRssMB: {},
      coordinatorLoopDelayMaxMs: 0,
      loadAverage: 0,
      faults: [],
    };
  }

  const one = async (i: number) => {
    const text = options.texts[i % options.texts.length]!;
    const policy = options.policies[i % options.policies.length]!;
    report.requests++;
    const { outcome } = await classifyOutcome(cluster.url, text, {
      parameters: { exit_policy: policy },
      expected: policy === 'none' ? options.expected?.get(text) : undefined,
      timeoutMs: 60_000,
    });
    countOutcome(report, outcome);
    countOutcome(minute, outcome);
  };
  const worker = async () => {
    while (Date.now() < endAt) await one(next++);
  };

  // Memory and event-loop sampling, closed into a row each minute.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const sample = () => {
    const peak = minute.peakRssMB;
    peak.coordinator = Math.max(peak.coordinator ?? 0, process.memoryUsage().rss / 2 ** 20);
    for (const a of cluster.agents) peak[a.name] = Math.max(peak[a.name] ?? 0, rssMB(a.child.pid));
  };
  const sampler = setInterval(sample, 250);
  let minuteStartVersion = version();
  const closeMinute = () => {
    sample();
    minute.planActivations = version() - minuteStartVersion;
    minute.coordinatorLoopDelayMaxMs = loop.max / 1e6;
    minute.loadAverage = os.loadavg()[0] ?? 0;
    loop.reset();
    report.minutes.push(minute);
    options.onMinute?.(minute);
    minuteStartVersion = version();
    minute = newMinute(minute.minute + 1);
  };

  const faults = async () => {
    const names = cluster.agents.map((a) => a.name);
    for (let m = 0; Date.now() < endAt; m++) {
      const minuteStarted = Date.now();
      const at = async (offsetMs: number) => {
        const wait = minuteStarted + offsetMs - Date.now();
        if (wait > 0) await sleep(wait);
        return Date.now() < endAt;
      };
      if (options.injectFaults === false) {
        if (!(await at(60_000))) break;
        closeMinute();
        continue;
      }
      const victims = {
        kill: names[m % names.length]!,
        stall: names[(m + 1) % names.length]!,
        frame: names[(m + 2) % names.length]!,
      };
      if (!(await at(5_000))) break;
      await killAndRestart(cluster, victims.kill);
      minute.faults.push(`kill ${victims.kill}`);
      report.faults++;
      if (!(await at(25_000))) break;
      const stalled = cluster.agents.find((a) => a.name === victims.stall)!;
      stalled.child.kill('SIGSTOP');
      await sleep(options.stallMs);
      stalled.child.kill('SIGCONT');
      minute.faults.push(`stall ${victims.stall} ${options.stallMs} ms`);
      report.faults++;
      if (!(await at(45_000))) break;
      const address = cluster.coordinator.registry.get(victims.frame)?.dataAddress;
      if (address) {
        const code = await sendOversized(address, options.oversizedBytes ?? 60 * 2 ** 20);
        minute.faults.push(`oversized frame to ${victims.frame} (closed ${code})`);
        report.faults++;
      }
      if (!(await at(60_000))) break;
      closeMinute();
    }
  };

  const startVersion = version();
  await Promise.all([faults(), ...Array.from({ length: options.concurrency }, worker)]);
  clearInterval(sampler);
  loop.disable();
  if (minute.answered + minute.lost + minute.failedRetryable + minute.degraded > 0) closeMinute();
  report.planActivations = version() - startVersion;
  return report;
}

/** SIGKILL, wait for the coordinator to notice, then start the agent again under its name (warm cache). */
async function killAndRestart(cluster: SimCluster, name: string): Promise<void> {
  const index = cluster.agents.findIndex((a) => a.name === name);
  const victim = cluster.agents[index]!;
  victim.child.kill('SIGKILL');
  await new Promise((r) =>
    victim.child.exitCode !== null || victim.child.signalCode !== null ? r(null) : victim.child.once('exit', r),
  );
  await sleep(3000);
  const again = startAgentProcess({
    name,
    coordinator: `127.0.0.1:${cluster.coordinator.grpcPort}`,
    dataDir: cluster.dataDir,
    threads: 1,
    clusterToken: cluster.clusterToken,
  });
  cluster.agents[index] = again;
  await again.ready.catch(() => undefined);
}
