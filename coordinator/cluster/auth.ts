import { randomBytes } from 'node:crypto';
import { newNonce, proofsEqual, registerProof } from '@edgerelay/proto';

const NONCE_TTL_MS = 30_000;
/** Outstanding nonces are capped so unauthenticated callers cannot grow the coordinator's memory. */
const MAX_NONCES = 10_000;

/**
 * Who may join: agents prove the cluster token over a single-use nonce; each registration then
 * gets a random session secret that every later control call must carry.
 */
export class ClusterAuth {
  private readonly nonces = new Map<string, number>();
  private readonly sessions = new Map<string, string>();

  constructor(private readonly token: string | undefined) {}

  get tokenRequired(): boolean {
    return !!this.token;
  }

  issueNonce(now = Date.now()): string {
    if (this.nonces.size >= MAX_NONCES) {
      for (const [n, expiry] of this.nonces) if (expiry < now) this.nonces.delete(n);
      // Still full of live nonces: drop the oldest rather than refuse honest agents.
      while (this.nonces.size >= MAX_NONCES) this.nonces.delete(this.nonces.keys().next().value!);
    }
    const nonce = newNonce();
    this.nonces.set(nonce, now + NONCE_TTL_MS);
    return nonce;
  }

  /** Why a registration is refused, or undefined when it is accepted. Each nonce works once. */
  refuseRegistration(
    req: { name: string; dataAddress: string; nonce: string; proof: string },
    now = Date.now(),
  ): string | undefined {
    const expiry = this.nonces.get(req.nonce);
    this.nonces.delete(req.nonce);
    if (!this.token) return undefined;
    if (expiry === undefined || expiry < now) return 'unknown or expired nonce: call Challenge first';
    if (!proofsEqual(registerProof(this.token, req.nonce, req.name, req.dataAddress), req.proof)) {
      return 'wrong cluster token: start the agent with the --cluster-token the coordinator uses';
    }
    return undefined;
  }

  newSession(agentId: string): string {
    const session = randomBytes(24).toString('hex');
    this.sessions.set(agentId, session);
    return session;
  }

  validSession(agentId: string, session: string | undefined): boolean {
    const expected = this.sessions.get(agentId);
    // Sessions are hex secrets, compared in constant time like the proofs.
    return !!expected && !!session && proofsEqual(expected, session);
  }

  endSession(agentId: string): void {
    this.sessions.delete(agentId);
  }
}
