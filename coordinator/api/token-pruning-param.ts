import { parseTokenPruning, TokenPruningSpecError } from '@edgerelay/device-agent';

/** What is wrong with a parameters.token_pruning value, or undefined when it is well-formed. */
export function tokenPruningProblem(value: string): string | undefined {
  if (value.trim() === 'calibrated') return undefined;
  try {
    parseTokenPruning(value);
    return undefined;
  } catch (err) {
    if (err instanceof TokenPruningSpecError) return err.message;
    throw err;
  }
}
