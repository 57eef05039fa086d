import { readFileSync } from 'node:fs';
import { EdgeRelayError } from '@edgerelay/proto';

/** A secret was given both as a flag and as a file; we refuse to guess which one the user meant. */
export class SecretOptionConflictError extends EdgeRelayError {
  override readonly code = 'EDGERELAY_SECRET_OPTION_CONFLICT';
}

/** A secret file could not be read, or holds nothing. */
export class SecretFileError extends EdgeRelayError {
  override readonly code = 'EDGERELAY_SECRET_FILE';
}

export interface SecretSpec {
  /** The flag, e.g. `--cluster-token`; its value is visible to every user in `ps`. */
  flag: string;
  /** The file flag, e.g. `--cluster-token-file`. */
  fileFlag: string;
  /** The environment variable, e.g. `EDGERELAY_CLUSTER_TOKEN`. */
  envVar: string;
}

export interface ResolvedSecret {
  value: string;
  source: 'flag' | 'file' | 'env';
}

export const CLUSTER_TOKEN: SecretSpec = {
  flag: '--cluster-token',
  fileFlag: '--cluster-token-file',
  envVar: 'EDGERELAY_CLUSTER_TOKEN',
};
export const API_KEY: SecretSpec = { flag: '--api-key', fileFlag: '--api-key-file', envVar: 'EDGERELAY_API_KEY' };

/**
 * Picks a secret from its flag, its file or its environment variable. The flag and the file exclude
 * each other; either wins over the environment. One trailing newline of the file is dropped
 * (`echo token > file` writes one). An empty environment variable counts as unset.
 */
export function resolveSecret(
  spec: SecretSpec,
  given: { flagValue?: string; file?: string },
  env: NodeJS.ProcessEnv = process.env,
): ResolvedSecret | undefined {
  if (given.flagValue !== undefined && given.file !== undefined) {
    throw new SecretOptionConflictError(
      `both ${spec.flag} and ${spec.fileFlag} were given; pass only ${spec.fileFlag} (or ${spec.envVar}), since flag values show in ps`,
    );
  }
  if (given.file !== undefined) return { value: readSecretFile(spec, given.file), source: 'file' };
  if (given.flagValue !== undefined) return { value: given.flagValue, source: 'flag' };
  const fromEnv = env[spec.envVar];
  return fromEnv ? { value: fromEnv, source: 'env' } : undefined;
}

function readSecretFile(spec: SecretSpec, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SecretFileError(
      `cannot read ${spec.fileFlag} ${file}: ${(err as Error).message}; give a readable file holding the secret`,
    );
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new SecretFileError(`${spec.fileFlag} ${file} is empty; write the secret into it`);
  return value;
}

/** Said once at start-up when a secret came from a flag, so the user learns why that is a bad idea. */
export function flagExposureWarning(spec: SecretSpec): string {
  return `${spec.flag} is visible to every user of this machine in ps; use ${spec.fileFlag} or ${spec.envVar} instead`;
}
