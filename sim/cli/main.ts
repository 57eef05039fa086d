#!/usr/bin/env node
// The `edgerelay` command: every coordinator command, plus `sim` and `demo`, which start a simulated
// cluster and so live here, above the coordinator in the dependency chain.
import { checkArgvLength, EdgeRelayError } from '@edgerelay/coordinator';

/** Expected failures print their message only; anything else is a bug and keeps its stack. */
function fail(err: unknown): void {
  if (err instanceof EdgeRelayError) process.stderr.write(`edgerelay: ${err.message}\n`);
  else process.stderr.write(`edgerelay: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
}

try {
  // Before any command module loads onnxruntime-node, which segfaults on a very long command line.
  checkArgvLength(process.argv.slice(2));
  const { buildProgram } = await import('@edgerelay/coordinator');
  const { registerSim } = await import('./sim.js');
  const { registerDemo } = await import('./demo.js');
  const program = buildProgram();
  registerSim(program);
  registerDemo(program);
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
