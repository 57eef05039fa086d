import type * as grpc from '@grpc/grpc-js';

/**
 * Why a registration under `name` is refused given the caller's TLS client certificate, or
 * undefined when it is accepted. Without TLS there is no certificate and nothing to check; with
 * mutual TLS the certificate's CN is the agent's identity, so one agent's key cannot register as another.
 */
export function certificateNameMismatch(
  call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext'>,
  name: string,
): string | undefined {
  const auth = call.getAuthContext();
  if (auth?.transportSecurityType !== 'ssl') return undefined;
  const cert = auth.sslPeerCertificate;
  if (!cert)
    return 'TLS without a client certificate: start the agent with --tls-dir holding <name>.pem from `edgerelay certs`';
  // Node gives an array when a subject repeats CN; such a certificate names no single agent.
  const cn: unknown = cert.subject?.CN;
  if (typeof cn !== 'string')
    return 'the client certificate has no single CN: issue it with `edgerelay certs --agents NAME`';
  if (cn !== name) {
    return `the client certificate is for "${cn}" but the agent registers as "${name}": start it with --name ${cn}, or issue a certificate for "${name}" with \`edgerelay certs --out DIR --agents ${name}\``;
  }
  return undefined;
}
