import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { EdgeRelayError, type DataPlaneTls } from '@edgerelay/proto';

/**
 * File layout of a TLS directory made by `edgerelay certs`. Kept here, free of certificate-making
 * code, so the agent can load its credentials without pulling node-forge onto a Pi.
 */
export const TLS_FILES = {
  caCert: 'ca.pem',
  caKey: 'ca-key.pem',
  coordinatorCert: 'coordinator.pem',
  coordinatorKey: 'coordinator-key.pem',
  agentCert: (name: string) => `${name}.pem`,
  agentKey: (name: string) => `${name}-key.pem`,
} as const;

/** A file of a TLS directory is missing or unreadable. */
export class TlsFilesError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_TLS_FILES';
}

/** Reads one PEM file of a TLS directory, with an error that says how to make it. */
export function readPem(dir: string, file: string): Buffer {
  const full = path.join(dir, file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TlsFilesError(
      code === 'ENOENT'
        ? `${full} does not exist: create the cluster's certificates with \`edgerelay certs --out ${dir}\` (add --agents NAME for an agent) and copy them here`
        : `cannot read ${full} (${code ?? (err as Error).message}): check its permissions`,
    );
  }
  if (!bytes.includes('-----BEGIN '))
    throw new TlsFilesError(`${full} is not a PEM file: regenerate it with \`edgerelay certs\``);
  return bytes;
}

/** The agent's data-plane TLS (wss): the same cluster CA and `<name>.pem` as its control plane. */
export function loadAgentDataPlaneTls(dir: string, name: string): DataPlaneTls {
  return {
    ca: readPem(dir, TLS_FILES.caCert),
    cert: readPem(dir, TLS_FILES.agentCert(name)),
    key: readPem(dir, TLS_FILES.agentKey(name)),
  };
}

/** The agent's side of mutual TLS: trust only the cluster CA, present `<name>.pem` signed by it. */
export function loadAgentCredentials(dir: string, name: string): grpc.ChannelCredentials {
  const ca = readPem(dir, TLS_FILES.caCert);
  const key = readPem(dir, TLS_FILES.agentKey(name));
  const cert = readPem(dir, TLS_FILES.agentCert(name));
  return grpc.credentials.createSsl(ca, key, cert);
}
