import * as grpc from '@grpc/grpc-js';
import { readPem, TLS_FILES } from '@edgerelay/device-agent';
import type { DataPlaneTls } from '@edgerelay/proto';

/** The coordinator's data-plane TLS (wss to the agents): the cluster CA and coordinator.pem. */
export function loadCoordinatorDataPlaneTls(dir: string): DataPlaneTls {
  return {
    ca: readPem(dir, TLS_FILES.caCert),
    cert: readPem(dir, TLS_FILES.coordinatorCert),
    key: readPem(dir, TLS_FILES.coordinatorKey),
  };
}

/**
 * The coordinator's side of mutual TLS: serve coordinator.pem and accept only clients whose
 * certificate the cluster CA signed (`true`: a client without a valid certificate fails the handshake).
 */
export function loadServerCredentials(dir: string): grpc.ServerCredentials {
  const ca = readPem(dir, TLS_FILES.caCert);
  const cert = readPem(dir, TLS_FILES.coordinatorCert);
  const key = readPem(dir, TLS_FILES.coordinatorKey);
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true);
}
