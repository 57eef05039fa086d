/**
 * Certificates for mutual TLS on the control plane: a cluster CA, a server certificate for the
 * coordinator and a client certificate per agent. Built with node-forge (key pairs come from
 * node:crypto through it), so nothing outside npm is needed; only the coordinator's CLI imports this.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import forge from 'node-forge';
import { readPem, TLS_FILES } from '@edgerelay/device-agent';
import { COORDINATOR_CERT_NAME, EdgeRelayError } from '@edgerelay/proto';

const { pki } = forge;

/** Always in a coordinator certificate, so a coordinator reached on loopback needs no extra host. */
export const DEFAULT_COORDINATOR_HOSTS = ['localhost', '127.0.0.1', '::1'];
export const DEFAULT_DAYS = 825;
/** A new CA outlives its first certificates, so agents added years later can still be issued. */
const CA_MIN_DAYS = 3650;
/** Edge devices without a real-time clock boot a little in the past: certificates start earlier. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const RSA_BITS = 2048;
/** The agent name becomes the CN and a file name, so it follows the control plane's name rule. */
const AGENT_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const HOST_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62})?)*\.?$/;

/** The output directory already holds a CA and this run would only replace it. */
export class CertsExistError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_CERTS_EXIST';
}
/** A bad agent name, host or validity. */
export class CertOptionsError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_CERT_OPTIONS';
}
/** The existing CA cannot be used to issue more certificates. */
export class CaUnusableError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_CA_UNUSABLE';
}

export interface ClusterCertsOptions {
  outDir: string;
  /** Extra host names / IP addresses of the coordinator, beside localhost, 127.0.0.1 and ::1. */
  coordinatorHosts?: string[];
  /** Agent names; each gets `<name>.pem` with CN = name. */
  agents?: string[];
  /** Validity of the certificates issued now (default 825 days). */
  days?: number;
  /** Replace an existing CA, which invalidates every certificate it issued. */
  force?: boolean;
  now?: Date;
}

export interface ClusterCertsResult {
  /** The CA was already in outDir and signed the new certificates. */
  caReused: boolean;
  /** Files written, relative to outDir. */
  written: string[];
  /** Agents whose certificate already existed under the reused CA and was left alone. */
  keptAgents: string[];
  /** SANs of the coordinator certificate when one was issued. */
  coordinatorHosts?: string[];
}

export interface KeyedCertificate {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

export function validateAgentName(name: string): void {
  if (!AGENT_NAME.test(name))
    throw new CertOptionsError(
      `agent name "${name}" must be 1-64 characters of A-Z a-z 0-9 . _ - (the name the agent runs with --name)`,
    );
  // These names would overwrite the CA's or the coordinator's files, or another agent's key.
  if (['ca', 'coordinator'].includes(name) || name.endsWith('-key')) {
    throw new CertOptionsError(
      `agent name "${name}" clashes with the files of the TLS directory: pick another --name for that agent`,
    );
  }
}

/** subjectAltName entries: IP addresses as iPAddress (type 7), the rest as dNSName (type 2). */
export function subjectAltNames(hosts: string[]): { type: number; value?: string; ip?: string }[] {
  return hosts.map((h) => {
    const host = h.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host)) return { type: 7, ip: host };
    if (!HOST_NAME.test(host) || host.length > 253)
      throw new CertOptionsError(
        `"${h}" is neither an IP address nor a host name: pass --coordinator-hosts as host1,ip2,...`,
      );
    return { type: 2, value: host.toLowerCase() };
  });
}

/** A positive serial of 16 random bytes; the top bits are fixed so the DER integer has no padding byte. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function newCertificate(
  publicKey: forge.pki.PublicKey,
  subject: forge.pki.CertificateField[],
  days: number,
  now: Date,
  notAfterCap?: Date,
): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(now.getTime() + days * DAY_MS);
  cert.validity.notAfter = notAfterCap && notAfterCap < notAfter ? notAfterCap : notAfter;
  cert.setSubject(subject);
  return cert;
}

export function createCa(days: number, now = new Date()): KeyedCertificate {
  const keys = pki.rsa.generateKeyPair({ bits: RSA_BITS });
  // A random suffix tells two clusters' CAs apart in logs and error messages.
  const subject = [
    { name: 'commonName', value: `edgerelay cluster CA ${randomBytes(4).toString('hex')}` },
    { name: 'organizationName', value: 'edgerelay' },
  ];
  const cert = newCertificate(keys.publicKey, subject, Math.max(days, CA_MIN_DAYS), now);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

/** A leaf certificate signed by the CA, for TLS servers and clients alike; `hosts` become its subjectAltNames (the coordinator's). */
export function issueCertificate(
  ca: KeyedCertificate,
  commonName: string,
  options: { days: number; hosts?: string[]; now?: Date },
): KeyedCertificate {
  const keys = pki.rsa.generateKeyPair({ bits: RSA_BITS });
  const cert = newCertificate(
    keys.publicKey,
    [
      { name: 'commonName', value: commonName },
      { name: 'organizationName', value: 'edgerelay' },
    ],
    options.days,
    options.now ?? new Date(),
    ca.cert.validity.notAfter,
  );
  cert.setIssuer(ca.cert.subject.attributes);
  const server = options.hosts !== undefined;
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    // Every certificate serves both ways: the coordinator's dials agents' data planes, and an agent's
    // serves its data plane (wss) to peers while it dials the coordinator and other agents.
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    ...(server ? [{ name: 'subjectAltName', altNames: subjectAltNames(options.hosts!) }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

/** Loads the CA of outDir and checks it can still sign: its key matches and it has not expired. */
export function loadCa(outDir: string, now = new Date()): KeyedCertificate {
  if (!existsSync(path.join(outDir, TLS_FILES.caKey))) {
    throw new CaUnusableError(
      `${path.join(outDir, TLS_FILES.caCert)} exists but ${TLS_FILES.caKey} does not: copy the CA key back to issue more certificates, or pass --force to make a new CA (every certificate must then be reissued)`,
    );
  }
  let ca: KeyedCertificate;
  try {
    ca = {
      cert: pki.certificateFromPem(readPem(outDir, TLS_FILES.caCert).toString()),
      key: pki.privateKeyFromPem(readPem(outDir, TLS_FILES.caKey).toString()) as forge.pki.rsa.PrivateKey,
    };
  } catch (err) {
    if (err instanceof EdgeRelayError) throw err;
    throw new CaUnusableError(
      `cannot read the CA in ${outDir} (${(err as Error).message}): it must be an RSA CA made by \`edgerelay certs\`; pass --force to make a new one`,
    );
  }
  const publicKey = ca.cert.publicKey as forge.pki.rsa.PublicKey;
  if (!publicKey.n || publicKey.n.compareTo(ca.key.n) !== 0) {
    throw new CaUnusableError(
      `${TLS_FILES.caKey} is not the key of ${TLS_FILES.caCert} in ${outDir}: restore the matching pair, or pass --force to make a new CA`,
    );
  }
  if (ca.cert.validity.notAfter <= now) {
    throw new CaUnusableError(
      `the CA in ${outDir} expired on ${ca.cert.validity.notAfter.toISOString()}: pass --force to make a new one and reissue every certificate`,
    );
  }
  return ca;
}

/** Writes through a temporary file and a rename, so a reader never sees half a key; keys are 0600. */
function writeAtomic(file: string, contents: string, mode: number): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, contents, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

function writePair(outDir: string, certFile: string, keyFile: string, pair: KeyedCertificate, written: string[]): void {
  writeAtomic(path.join(outDir, keyFile), pki.privateKeyToPem(pair.key), 0o600);
  writeAtomic(path.join(outDir, certFile), pki.certificateToPem(pair.cert), 0o644);
  written.push(certFile, keyFile);
}

/**
 * Makes (or extends) a cluster's TLS directory. A new directory gets a CA, a coordinator
 * certificate and the agents' certificates. When outDir already holds a CA, it is reused to issue
 * the agents that have no certificate yet (and a coordinator certificate when hosts are given or
 * none exists), so certificates already handed out keep working; a run that would issue nothing
 * but a new CA is refused unless `force`.
 */
export function generateClusterCerts(options: ClusterCertsOptions): ClusterCertsResult {
  const { outDir } = options;
  const now = options.now ?? new Date();
  const days = options.days ?? DEFAULT_DAYS;
  if (!Number.isInteger(days) || days <= 0)
    throw new CertOptionsError(`--days must be a positive whole number of days, got ${days}`);
  const agents = [...new Set(options.agents ?? [])];
  agents.forEach(validateAgentName);
  const hosts = [...new Set([...DEFAULT_COORDINATOR_HOSTS, ...(options.coordinatorHosts ?? [])])];
  subjectAltNames(hosts); // refuse a bad host before anything is written

  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const caExists = existsSync(path.join(outDir, TLS_FILES.caCert));
  const reuse = caExists && !options.force;
  const written: string[] = [];
  let ca: KeyedCertificate;
  let newAgents = agents;
  let keptAgents: string[] = [];
  let issueCoordinator = true;
  if (reuse) {
    ca = loadCa(outDir, now);
    keptAgents = agents.filter((a) => existsSync(path.join(outDir, TLS_FILES.agentCert(a))));
    newAgents = agents.filter((a) => !keptAgents.includes(a));
    issueCoordinator =
      (options.coordinatorHosts?.length ?? 0) > 0 || !existsSync(path.join(outDir, TLS_FILES.coordinatorCert));
    if (newAgents.length === 0 && !issueCoordinator) {
      throw new CertsExistError(
        `${outDir} already holds a cluster CA${keptAgents.length ? ` and certificates for ${keptAgents.join(', ')}` : ''}: ` +
          'pass --agents with new names to add agents under it, --coordinator-hosts to reissue the coordinator certificate, ' +
          'or --force to replace the CA (every certificate it issued stops working)',
      );
    }
  } else {
    ca = createCa(days, now);
    writePair(outDir, TLS_FILES.caCert, TLS_FILES.caKey, ca, written);
  }
  if (issueCoordinator) {
    writePair(
      outDir,
      TLS_FILES.coordinatorCert,
      TLS_FILES.coordinatorKey,
      issueCertificate(ca, COORDINATOR_CERT_NAME, { days, hosts, now }),
      written,
    );
  }
  for (const name of newAgents) {
    writePair(
      outDir,
      TLS_FILES.agentCert(name),
      TLS_FILES.agentKey(name),
      issueCertificate(ca, name, { days, now }),
      written,
    );
  }
  return { caReused: reuse, written, keptAgents, coordinatorHosts: issueCoordinator ? hosts : undefined };
}
