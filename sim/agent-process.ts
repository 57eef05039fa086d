import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * How to start an agent process: from the TypeScript source (through tsx) when we run from source,
 * as tests do, or the compiled agent when we run from dist/.
 */
export function agentCommand(): { command: string; args: string[] } {
  // Resolved like any import: the TypeScript source under the "development" condition (tests, tsx),
  // the compiled package otherwise.
  const main = createRequire(import.meta.url).resolve('@edgerelay/device-agent/main');
  if (main.endsWith('.ts'))
    return { command: process.execPath, args: ['--import', 'tsx', '--conditions=development', main] };
  if (!existsSync(main)) throw new Error(`compiled agent not found at ${main}; run npm run build`);
  return { command: process.execPath, args: [main] };
}

export interface AgentProcessOptions {
  name: string;
  coordinator: string;
  dataDir: string;
  threads: number;
  logLevel?: string;
  extraArgs?: string[];
  /** Passed in the environment, not argv, so it does not show in the process list. */
  clusterToken?: string;
}

export interface AgentProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when the agent printed its ready line (registered and listening). */
  ready: Promise<void>;
  stderrTail(): string;
}

export function startAgentProcess(options: AgentProcessOptions): AgentProcess {
  const { command, args } = agentCommand();
  const child = spawn(
    command,
    [
      ...args,
      '--coordinator',
      options.coordinator,
      '--name',
      options.name,
      '--listen',
      '0',
      '--listen-host',
      '127.0.0.1',
      '--threads',
      String(options.threads),
      '--data-dir',
      options.dataDir,
      '--log-level',
      options.logLevel ?? 'warn',
      // We hold the write end of its stdin and never write: when this process dies, even by kill -9,
      // the agent sees EOF and stops instead of living on as an orphan.
      '--exit-on-stdin-close',
      ...(options.extraArgs ?? []),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, EDGERELAY_CLUSTER_TOKEN: options.clusterToken ?? '' } },
  );
  // An agent that exits first must not turn our idle pipe into an EPIPE crash of the launcher.
  child.stdin!.on('error', () => undefined);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
    if (process.env.EDGERELAY_SIM_VERBOSE) process.stderr.write(d);
  });
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(`edgerelay-agent ${options.name} ready`)) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`agent ${options.name} exited (${code ?? signal}) before it was ready:\n${stderr}`)),
    );
  });
  ready.catch(() => undefined);
  return { name: options.name, child, ready, stderrTail: () => stderr };
}
