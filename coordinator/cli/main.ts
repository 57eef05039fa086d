import { EdgeRelayError } from '@edgerelay/proto';
import { checkArgvLength } from './infer-input.js';

/** Expected failures print their message only; anything else is a bug and keeps its stack. */
function fail(err: unknown): void {
  if (err instanceof EdgeRelayError) process.stderr.write(`edgerelay: ${err.message}\n`);
  else process.stderr.write(`edgerelay: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
}

try {
  // Checked before program.js is imported: the commands load onnxruntime-node, which crashes the
  // whole process (a segfault, no message) when the command line is too long.
  checkArgvLength(process.argv.slice(2));
  const { buildProgram } = await import('./program.js');
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  fail(err);
}
