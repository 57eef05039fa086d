import type pino from 'pino';
import type { AgentRecord } from '../cluster/registry.js';
import { linkProfile, type Link } from '../planning/index.js';
import type { Dispatcher } from '../serving/dispatcher.js';
import { MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_SEC } from '@edgerelay/device-agent';

/** Why a reported link cannot be planned with, or undefined when it can (agents may be older, or buggy). */
export function implausibleLink(l: { bandwidthBytesPerSec: number; latencyMs: number }): string | undefined {
  if (!(Number.isFinite(l.bandwidthBytesPerSec) && l.bandwidthBytesPerSec > 0))
    return `bandwidth ${l.bandwidthBytesPerSec} B/s is not positive`;
  if (l.bandwidthBytesPerSec > MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_SEC) {
    return `${(l.bandwidthBytesPerSec * 8e-6).toFixed(0)} Mbit/s exceeds ${MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_SEC * 8e-6} Mbit/s (a stall during the probe)`;
  }
  if (!(Number.isFinite(l.latencyMs) && l.latencyMs >= 0)) return `latency ${l.latencyMs} ms is not a duration`;
  return undefined;
}

/**
 * Every agent measures its links to the others over the data plane (device-agent/link-probe.ts);
 * the results land in `measured` by "from|to". Returns whether any link is clearly slower than the
 * gigabit a plan assumes before anything was measured (over Wi-Fi, head groups stop paying).
 */
export async function surveyLinks(
  agents: AgentRecord[],
  dispatcher: Dispatcher,
  measured: Map<string, Link>,
  logger: pino.Logger,
): Promise<boolean> {
  const peers = agents.map((a) => a.id);
  const assumed = linkProfile('gigabit');
  let slower = false;
  for (const a of agents) {
    const report = await dispatcher.measureLinks(a.id, a.dataAddress, peers);
    const dropped: string[] = [];
    for (const l of report.links) {
      const why = implausibleLink(l);
      if (why) {
        // Planning with an absurd figure is worse than with none: the plan keeps assuming gigabit.
        dropped.push(`${l.peer}: ${why}`);
        continue;
      }
      measured.set(`${a.id}|${l.peer}`, { bandwidthBytesPerSec: l.bandwidthBytesPerSec, latencyMs: l.latencyMs });
      // Measured latency includes the data plane's own software time: only clearly slower links count.
      if (l.bandwidthBytesPerSec < assumed.bandwidthBytesPerSec / 2 || l.latencyMs > assumed.latencyMs + 5)
        slower = true;
    }
    if (dropped.length)
      logger.warn(
        { agent: a.id, dropped },
        'ignored implausible link measurements; those links keep their earlier or assumed figures',
      );
    if (report.errors.length) logger.warn({ agent: a.id, errors: report.errors }, 'some links could not be measured');
  }
  const summary = Object.fromEntries(
    [...measured].map(([k, v]) => [
      k,
      `${(v.bandwidthBytesPerSec * 8e-6).toFixed(0)} Mbit/s, ${v.latencyMs.toFixed(2)} ms`,
    ]),
  );
  logger.info({ links: summary }, 'measured links');
  return slower;
}
