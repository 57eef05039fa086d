import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * How to start an agent process: from the TypeScript source (through tsx) when we run from source,
 * as tests do, or the compiled agent when we run from dist/.
 */
export function agentCommand(): { command: string; args: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  if (fromSource) return { command: process.execPath, args: ['--import', 'tsx', path.join(here, '..', 'device-agent', 'main.ts')] };
  const compiled = path.join(here, '..', 'device-agent', 'main.js');
  if (!existsSync(compiled)) throw new Error(`compiled agent not found at ${compiled}; run npm run build`);
  return { command: process.execPath, args: [compiled] };
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
      '--coordinator', options.coordinator,
      '--name', options.name,
      '--listen', '0',
      '--listen-host', '127.0.0.1',
      '--threads', String(options.threads),
      '--data-dir', options.dataDir,
      '--log-level', options.logLevel ?? 'warn',
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
    child.once('exit', (code, signal) => reject(new Error(`agent ${options.name} exited (${code ?? signal}) before it was ready:\n${stderr}`)));
  });
  ready.catch(() => undefined);
  return { name: options.name, child, ready, stderrTail: () => stderr };
}
