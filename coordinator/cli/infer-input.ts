import { readFile } from 'node:fs/promises';
import { text as readStream } from 'node:stream/consumers';

import { EdgeRelayError } from '@edgerelay/proto';

/**
 * Most bytes of command-line arguments edgerelay accepts. onnxruntime-node 1.30 segfaults while
 * creating its first session when the process's argv is around 30 KB or more (deep recursion in
 * the runtime's one-time initialisation, an upstream bug); half that leaves a safe margin.
 */
export const MAX_ARGV_BYTES = 16 * 1024;

/** The arguments are too long for onnxruntime-node to start safely. */
export class CommandLineTooLongError extends EdgeRelayError {
  override readonly code = 'argv_too_long';
  constructor(readonly bytes: number) {
    super(
      `the command line carries ${bytes} bytes of arguments, over the ${MAX_ARGV_BYTES}-byte limit ` +
        '(onnxruntime-node crashes on start-up with a command line that long); put the texts in a file, ' +
        'one per line, and run `edgerelay infer --model DIR --input FILE`, or pipe them in with `--input -`',
    );
  }
}

/** A text source given to --input could not be read, or held no text. */
export class InferInputError extends EdgeRelayError {
  override readonly code = 'infer_input';
}

/** Bytes the arguments take in the process's argv block (each NUL-terminated). */
export function argvBytes(args: readonly string[]): number {
  return args.reduce((sum, a) => sum + Buffer.byteLength(a) + 1, 0);
}

/** Throws CommandLineTooLongError before anything has loaded onnxruntime-node. */
export function checkArgvLength(args: readonly string[]): void {
  const bytes = argvBytes(args);
  if (bytes > MAX_ARGV_BYTES) throw new CommandLineTooLongError(bytes);
}

/** One text per line; CRLF line ends are accepted and blank (or whitespace-only) lines skipped. */
export function splitTexts(content: string): string[] {
  return content.split(/\r?\n/).filter((line) => line.trim() !== '');
}

/** The texts of --input: a file, or standard input for "-". */
export async function readInputTexts(source: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<string[]> {
  let content: string;
  try {
    content = source === '-' ? await readStream(stdin) : await readFile(source, 'utf8');
  } catch (err) {
    throw new InferInputError(
      `cannot read --input ${source === '-' ? 'from standard input' : source}: ${(err as Error).message}`,
    );
  }
  return splitTexts(content);
}
