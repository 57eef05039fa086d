import type { IncomingMessage } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';

/**
 * Mutual TLS on the data plane (wss): every side holds the cluster CA and its own certificate from
 * `edgerelay certs`, whose CN is its identity: the agent's name, or COORDINATOR_CERT_NAME.
 */
export interface DataPlaneTls {
  /** The cluster CA (PEM): the only issuer trusted. */
  ca: Buffer;
  /** This side's certificate and key (PEM). */
  cert: Buffer;
  key: Buffer;
}

/** CN of the coordinator's certificate; agents' certificates carry the agent's name. */
export const COORDINATOR_CERT_NAME = 'edgerelay-coordinator';

/** The CN of the client certificate a TLS connection presented, or undefined on a plain connection. */
export function clientCertificateName(req: IncomingMessage): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cn: unknown = socket.getPeerCertificate().subject?.CN;
  // Node gives an array when a subject repeats CN: such a certificate names no single peer.
  return typeof cn === 'string' ? cn : '';
}

/**
 * Why a hello is refused given the certificate its connection presented, or undefined when they agree:
 * an agent must say the name its certificate carries, and only the coordinator's certificate may speak
 * as the coordinator. `certificateName` undefined means no TLS, so nothing to check.
 */
export function helloCertificateMismatch(
  certificateName: string | undefined,
  hello: { role: 'agent' | 'coordinator'; from: string },
): string | undefined {
  if (certificateName === undefined) return undefined;
  if (hello.role === 'coordinator')
    return certificateName === COORDINATOR_CERT_NAME
      ? undefined
      : `a hello as the coordinator over a connection with ${certificateName ? `"${certificateName}"'s` : 'a nameless'} certificate`;
  return certificateName === hello.from
    ? undefined
    : `a hello from "${hello.from}" over a connection with ${certificateName ? `"${certificateName}"'s` : 'a nameless'} certificate`;
}

/** Dialer side: accept the server only if its certificate (already CA-checked) names the peer we meant to reach. */
export function expectServerName(expected: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const cn: unknown = cert.subject?.CN;
    return cn === expected
      ? undefined
      : new Error(`the data plane there presents a certificate for "${String(cn)}", not for "${expected}"`);
  };
}
