import type { FrameOf } from '@edgerelay/proto';
import type { LinkMeasurement, LinkProber } from './link-probe.js';

/**
 * Measures the link to each peer in turn (one at a time, so they do not share the uplink); a peer
 * that cannot be measured is reported as an error, never fails the whole report.
 */
export async function measureLinks(
  prober: LinkProber,
  self: string,
  requestId: string,
  peers: string[],
): Promise<FrameOf<'link-report'>> {
  const links: LinkMeasurement[] = [];
  const errors: string[] = [];
  for (const peer of peers.filter((p) => p !== self)) {
    try {
      links.push(await prober.measure(requestId, peer));
    } catch (err) {
      errors.push(`${peer}: ${(err as Error).message}`.slice(0, 500));
    }
  }
  return { type: 'link-report', requestId, agent: self, links, errors };
}
