import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Challenge-response proofs: a peer shows it knows a secret by MACing a fresh nonce, so the secret
 * itself never crosses the network and a recorded proof is useless for another nonce.
 */

export function newNonce(): string {
  return randomBytes(24).toString('hex');
}

function mac(secret: string | Uint8Array, message: string): string {
  return createHmac('sha256', secret).update(message).digest('hex');
}

/** Proof that an agent joining the cluster knows the cluster token. */
export function registerProof(token: string, nonce: string, name: string, dataAddress: string): string {
  return mac(token, `register|${nonce}|${name}|${dataAddress}`);
}

/** Proof that a data-plane peer holds the key of a plan version (handed out over the control plane). */
export function dataPlaneProof(key: Uint8Array, nonce: string, role: string, from: string): string {
  return mac(key, `data-plane|${nonce}|${role}|${from}`);
}

export function proofsEqual(expected: string, actual: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(actual, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}
