import type { Command } from 'commander';
import { EdgeRelayError } from '@edgerelay/proto';
import { checkArgvLength } from './infer-input.js';

/** Expected failures print their message only; anything else is a bug and keeps its stack. */
function fail(err: unknown): void {
  if (err instanceof EdgeRelayError) process.stderr.write(`edgerelay: ${err.message}\n`);
  else process.stderr.write(`edgerelay: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
}

/**
 * Runs the `edgerelay` command line: the coordinator's commands, plus those `extend` adds (sim/
 * adds `sim` and `demo`). The argument length is checked before any command module is loaded: they
 * load onnxruntime-node, which crashes the whole process (a segfault, no message) when the command
 * line is too long.
 */
export async function runCommandLine(extend?: (program: Command) => Promise<void>): Promise<void> {
  try {
    checkArgvLength(process.argv.slice(2));
    const { buildProgram } = await import('./program.js');
    const program = buildProgram();
    await extend?.(program);
    await program.parseAsync(process.argv);
  } catch (err) {
    fail(err);
  }
}
