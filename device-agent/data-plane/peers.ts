import { PEER_LINK_CODES, PeerLinkError } from '../errors.js';
import type { Frame } from '@edgerelay/proto';
import {
  dial,
  type BadFrameHandler,
  type DialKey,
  type FrameHandler,
  type Link,
  type LinkOptions,
  type DataPlaneTls,
} from '@edgerelay/proto';

/**
 * Outgoing links to other agents, dialed on first use and reused; a closed link is redialed.
 * Concurrent sends to a peer that is still connecting share one dial.
 */
export class PeerLinks {
  private readonly links = new Map<string, Promise<Link>>();
  private addresses = new Map<string, string>();

  constructor(
    private readonly selfId: string,
    private readonly onFrame: FrameHandler,
    private readonly onBadFrame: BadFrameHandler,
    /** The plan key to prove when dialing: the newest plan this agent runs. */
    private readonly dialKey: () => DialKey | undefined,
    /** Handed to every link dialed: the agent's counters and, emulated, its shaper. */
    private readonly linkOptions: LinkOptions = {},
    /** Dial wss with these, accepting only a peer whose certificate names the agent we meant to reach. */
    private readonly tls?: DataPlaneTls,
  ) {}

  setAddresses(addresses: Map<string, string>): void {
    this.addresses = addresses;
    // Links to agents whose address changed (or vanished) are dropped; they will be redialed.
    for (const [id, pending] of this.links) {
      pending.then((l) => (addresses.get(id) === undefined ? l.close() : undefined)).catch(() => undefined);
    }
  }

  async link(agentId: string): Promise<Link> {
    const existing = this.links.get(agentId);
    if (existing) {
      const l = await existing.catch(() => undefined);
      if (l?.open) return l;
      this.links.delete(agentId);
    }
    const address = this.addresses.get(agentId);
    if (!address)
      throw new PeerLinkError(
        PEER_LINK_CODES.noAddress,
        `no data-plane address for agent "${agentId}" in the current plan`,
      );
    const key = this.dialKey();
    if (!key) throw new PeerLinkError(PEER_LINK_CODES.noPlan, 'no plan loaded: cannot authenticate to peers');
    const pending = dial(address, { role: 'agent', from: this.selfId }, key, this.onFrame, this.onBadFrame, {
      ...this.linkOptions,
      ...(this.tls && { tls: { credentials: this.tls, peer: agentId } }),
    });
    this.links.set(agentId, pending);
    pending.catch(() => this.links.delete(agentId));
    return pending;
  }

  async send(agentId: string, frame: Frame): Promise<void> {
    const l = await this.link(agentId);
    if (!l.send(frame))
      throw new PeerLinkError(PEER_LINK_CODES.linkClosed, `link to agent "${agentId}" closed while sending`);
  }

  closeAll(): void {
    for (const pending of this.links.values()) pending.then((l) => l.close()).catch(() => undefined);
    this.links.clear();
  }
}
