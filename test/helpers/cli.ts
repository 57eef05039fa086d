import { execFile } from 'node:child_process';
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
