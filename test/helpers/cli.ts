import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', '--conditions=development', 'coordinator/cli/main.ts'];

export interface CliResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when a signal killed the process (then `signal` names it). */
  code: number | null;
  signal?: string | null;
}

/**
 * Runs the edgerelay CLI from source in a real process; never throws, returns its output and exit
 * code. `stdin`, when given, is written to the process's standard input, which is then closed.
 */
export async function edgerelay(args: string[], options: { stdin?: string } = {}): Promise<CliResult> {
  const pending = run(process.execPath, [...CLI, ...args], { maxBuffer: 1 << 24 });
  if (options.stdin !== undefined) pending.child.stdin!.end(options.stdin);
  try {
    return { ...(await pending), code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number | null; signal?: string | null };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code, signal: e.signal };
  }
}

/**
 * Starts the edgerelay CLI from source as a long-running process (a coordinator daemon), stderr piped;
 * `env` is added to this process's environment. The caller kills it.
 */
export function spawnEdgerelay(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [...CLI, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
}

/** A loopback port nobody listens on now (for a daemon that must come back on the same one). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
