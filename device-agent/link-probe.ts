import { ProbeTimeoutError } from './errors.js';
import { EdgeRelayError } from '@edgerelay/proto';
import type { Frame, FrameOf } from '@edgerelay/proto';
import { PendingReplies } from './util/pending-replies.js';

/** What an agent measured of its link to one peer, over the data plane itself. */
export interface LinkMeasurement {
  peer: string;
  latencyMs: number;
  bandwidthBytesPerSec: number;
}

const PINGS = 5;
const PING_BYTES = 16;
/**
 * Two bulk sizes: the difference of their round trips is pure transfer time, free of the fixed costs
 * (framing, scheduling) both pay. Big enough to take milliseconds on gigabit, small enough to be quick.
 */
export const SMALL_BULK_BYTES = 128 * 1024;
export const BULK_BYTES = 1024 * 1024;
/** Small/big pairs per peer: three of each, so a stall in one probe is outvoted. */
const BULK_PAIRS = 3;
/** No edge device has a faster NIC; a probe implying more measured a stall, not the link. */
export const MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_SEC = 100e9 / 8;
/** The fastest bandwidth sample must have another within this factor, or it is an outlier. */
const OUTLIER_FACTOR = 3;
const MIN_PINGS = 3;
const MIN_BULK_SAMPLES = 2;

/** Too few probes of a link gave believable timings (the link or a peer stalled while we measured). */
export class ImplausibleLinkError extends EdgeRelayError {
  override readonly code = 'EDGERELAY_LINK_IMPLAUSIBLE';
}

/** Round-trip times of one measurement, in ms: the pings, then small/big bulk pairs taken back to back. */
export interface ProbeTimings {
  pingsMs: number[];
  bulk: { smallMs: number; bigMs: number }[];
}

const positive = (ms: number) => Number.isFinite(ms) && ms > 0;

/**
 * Turns raw probe timings into a link measurement. A stall only ever adds time, so the fastest ping is
 * the truest round trip and the fastest small probe the truest fixed cost and each big probe's excess over it is a bandwidth sample. Dropped as
 * implausible: non-positive or non-finite timings, a big probe no slower than that small one or
 * implying more than 100 Gbit/s (what a stall in every small probe looks like: it once gave
 * 734,003 Mbit/s), and a fastest sample no other sample comes within 3x of. Fewer than two samples
 * left throws ImplausibleLinkError: no figure beats a wrong one for the planner.
 */
export function estimateLink(
  peer: string,
  timings: ProbeTimings,
  sizes = { small: SMALL_BULK_BYTES, big: BULK_BYTES },
): LinkMeasurement {
  const pings = timings.pingsMs.filter(positive);
  if (pings.length < MIN_PINGS) {
    throw new ImplausibleLinkError(
      `link to ${peer}: only ${pings.length} of ${timings.pingsMs.length} latency probes had a positive round trip (need ${MIN_PINGS}); measure the link again`,
    );
  }
  const smalls = timings.bulk.map((p) => p.smallMs).filter(positive);
  const small = smalls.length ? Math.min(...smalls) : Infinity;
  const samples = timings.bulk
    .map((p) => p.bigMs)
    .filter((big) => positive(big) && big > small)
    .map((big) => ((sizes.big - sizes.small) / (big - small)) * 1000)
    .filter((bw) => bw <= MAX_PLAUSIBLE_BANDWIDTH_BYTES_PER_SEC)
    .sort((a, b) => b - a);
  // Slow samples (a stalled big probe) are ignored by taking the fastest; a fastest one alone is suspect.
  while (samples.length >= 2 && samples[0]! > samples[1]! * OUTLIER_FACTOR) samples.shift();
  if (samples.length < MIN_BULK_SAMPLES) {
    throw new ImplausibleLinkError(
      `link to ${peer}: only ${samples.length} of ${timings.bulk.length} bandwidth probes were plausible (need ${MIN_BULK_SAMPLES}; ` +
        'the others were no slower than the fastest small probe, implied over 100 Gbit/s, or no other probe came near them); ' +
        'the link or a peer probably stalled during the measurement, measure it again',
    );
  }
  // The same reasoning as for bandwidth: a stall (a busy CPU, a GC pause) only ever adds time, so the
  // fastest ping is the truest round trip. A median still moved with a machine busy for most pings.
  return { peer, latencyMs: Math.min(...pings) / 2, bandwidthBytesPerSec: samples[0]! };
}

/**
 * Measures links to peers the way the data plane will use them: a few small round trips for latency,
 * then small and large frames for bandwidth (a large round trip minus a small one is the transfer time).
 * Echoes carry no payload back, so only the prober's outgoing direction is timed.
 */
export class LinkProber {
  private readonly echoes = new PendingReplies<string, void>();
  private seq = 0;

  constructor(
    private readonly send: (peer: string, frame: Frame) => Promise<void>,
    /** Milliseconds; injectable so tests can script stalls. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Called for every probe-echo frame that arrives. */
  echoed(frame: FrameOf<'probe-echo'>): void {
    this.echoes.deliver(`${frame.requestId}/${frame.seq}`, undefined);
  }

  private async roundTrip(peer: string, requestId: string, bytes: number, timeoutMs: number): Promise<number> {
    const seq = this.seq++;
    const key = `${requestId}/${seq}`;
    const started = this.now();
    const echoed = this.echoes.wait(
      key,
      timeoutMs,
      () => new ProbeTimeoutError(`no probe echo from ${peer} within ${timeoutMs} ms`),
    );
    echoed.catch(() => undefined); // a failed send below rejects first; never leave this unobserved
    try {
      await this.send(peer, { type: 'probe', requestId, seq, payload: new Uint8Array(bytes) });
    } catch (err) {
      this.echoes.fail(key, err as Error);
      throw err;
    }
    await echoed;
    return this.now() - started;
  }

  async measure(requestId: string, peer: string, timeoutMs = 5000): Promise<LinkMeasurement> {
    await this.roundTrip(peer, requestId, PING_BYTES, timeoutMs); // dials the link and warms it up
    const timings: ProbeTimings = { pingsMs: [], bulk: [] };
    for (let i = 0; i < PINGS; i++) timings.pingsMs.push(await this.roundTrip(peer, requestId, PING_BYTES, timeoutMs));
    for (let i = 0; i < BULK_PAIRS; i++) {
      const smallMs = await this.roundTrip(peer, requestId, SMALL_BULK_BYTES, timeoutMs);
      const bigMs = await this.roundTrip(peer, requestId, BULK_BYTES, timeoutMs);
      timings.bulk.push({ smallMs, bigMs });
    }
    return estimateLink(peer, timings);
  }
}
