import assert from 'node:assert/strict';
import pino from 'pino';
import { Writable } from 'node:stream';
import type { AgentRecord } from '../coordinator/cluster/registry.js';
import { surveyLinks } from '../coordinator/daemon/link-survey.js';
import type { Link } from '../coordinator/planning/index.js';
import type { Dispatcher } from '../coordinator/serving/dispatcher.js';
import {
  BULK_BYTES,
  estimateLink,
  ImplausibleLinkError,
  LinkProber,
  SMALL_BULK_BYTES,
} from '../device-agent/link-probe.js';

const GIGABIT = 940e6 / 8; // bytes/s
const mbps = (bytesPerSec: number) => (bytesPerSec * 8) / 1e6;
/** Round trip of a frame of `bytes` over a link of `bw` bytes/s with 0.2 ms of fixed cost. */
const rtt = (bytes: number, bw = GIGABIT) => 0.2 + (bytes / bw) * 1000;
const pair = (stallSmallMs = 0, stallBigMs = 0) => ({
  smallMs: rtt(SMALL_BULK_BYTES) + stallSmallMs,
  bigMs: rtt(BULK_BYTES) + stallBigMs,
});
const pings = [0.4, 0.41, 0.39, 0.4, 0.42];

describe('estimateLink (probe timings to a link figure)', () => {
  it('gives the link bandwidth and half the fastest ping from clean probes', () => {
    const l = estimateLink('b', { pingsMs: pings, bulk: [pair(), pair(), pair()] });
    assert.ok(Math.abs(mbps(l.bandwidthBytesPerSec) - 940) < 1, `${mbps(l.bandwidthBytesPerSec)} Mbit/s`);
    assert.equal(l.latencyMs, 0.195);
  });

  it('ignores pings stalled by a busy machine, even when most of them are', () => {
    const l = estimateLink('b', { pingsMs: [0.4, 9.1, 0.41, 13.3, 7.7], bulk: [pair(), pair()] });
    assert.equal(l.latencyMs, 0.2);
  });

  it('ignores a stall in a small probe: the fastest small probe sets the fixed cost', () => {
    const l = estimateLink('b', { pingsMs: pings, bulk: [pair(8), pair(), pair()] });
    assert.ok(Math.abs(mbps(l.bandwidthBytesPerSec) - 940) < 1, `${mbps(l.bandwidthBytesPerSec)} Mbit/s`);
  });

  it('ignores a stalled big probe and drops one implying more than 100 Gbit/s', () => {
    // 0.015 ms for 896 KiB more than the small probe is 490 Gbit/s: not a link, a timing accident.
    const tooFast = { smallMs: rtt(SMALL_BULK_BYTES), bigMs: rtt(SMALL_BULK_BYTES) + 0.015 };
    const l = estimateLink('b', { pingsMs: pings, bulk: [tooFast, pair(0, 40), pair(), pair()] });
    assert.ok(Math.abs(mbps(l.bandwidthBytesPerSec) - 940) < 1, `${mbps(l.bandwidthBytesPerSec)} Mbit/s`);
  });

  it('drops a fastest sample that no other sample comes within 3x of', () => {
    // 0.085 ms of transfer is 86 Gbit/s: under the ceiling, but nothing else measured came near it.
    const outlier = { smallMs: rtt(SMALL_BULK_BYTES), bigMs: rtt(SMALL_BULK_BYTES) + 0.085 };
    const l = estimateLink('b', { pingsMs: pings, bulk: [outlier, pair(), pair()] });
    assert.ok(Math.abs(mbps(l.bandwidthBytesPerSec) - 940) < 1, `${mbps(l.bandwidthBytesPerSec)} Mbit/s`);
  });

  it('fails with a clear error instead of a number when every small probe stalled (the 734,003 Mbit/s case)', () => {
    assert.throws(
      () => estimateLink('b', { pingsMs: pings, bulk: [pair(20), pair(20), pair(20)] }),
      (err: unknown) =>
        err instanceof ImplausibleLinkError &&
        err.code === 'EDGERELAY_LINK_IMPLAUSIBLE' &&
        /link to b: only 0 of 3 bandwidth probes were plausible.*measure it again/.test(err.message),
    );
  });

  it('fails when the only two samples disagree by more than 3x', () => {
    const outlier = { smallMs: rtt(SMALL_BULK_BYTES), bigMs: rtt(SMALL_BULK_BYTES) + 0.085 };
    assert.throws(() => estimateLink('b', { pingsMs: pings, bulk: [outlier, pair()] }), /only 1 of 2 bandwidth probes/);
  });

  it('ignores non-positive and non-finite ping times, and fails when fewer than three remain', () => {
    const l = estimateLink('b', { pingsMs: [0, -1, 0.4, 0.4, 0.4], bulk: [pair(), pair()] });
    assert.equal(l.latencyMs, 0.2);
    assert.throws(
      () => estimateLink('b', { pingsMs: [0, -1, NaN, 0.4, 0.4], bulk: [pair(), pair()] }),
      /only 2 of 5 latency probes/,
    );
  });
});

describe('LinkProber.measure with a scripted clock', () => {
  /** A prober whose peer echoes at once, each round trip taking rtt(bytes) plus any stall scripted for its index. */
  function scriptedProber(stalls: Record<number, number>): LinkProber {
    let now = 0;
    let trip = 0;
    const prober: LinkProber = new LinkProber(
      async (_peer, frame) => {
        if (frame.type !== 'probe') return;
        now += rtt(frame.payload.byteLength) + (stalls[trip++] ?? 0);
        queueMicrotask(() => prober.echoed({ type: 'probe-echo', requestId: frame.requestId, seq: frame.seq }));
      },
      () => now,
    );
    return prober;
  }
  // Round trips: 0 warm-up, 1-5 pings, then small/big pairs at 6/7, 8/9, 10/11.

  it('measures the scripted link despite a stall in one small probe', async () => {
    const l = await scriptedProber({ 6: 20 }).measure('r', 'b');
    assert.ok(Math.abs(mbps(l.bandwidthBytesPerSec) - 940) < 1, `${mbps(l.bandwidthBytesPerSec)} Mbit/s`);
    assert.ok(Math.abs(l.latencyMs - rtt(16) / 2) < 1e-9);
  });

  it('rejects the measurement when every small probe stalled, rather than report an absurd bandwidth', async () => {
    await assert.rejects(scriptedProber({ 6: 20, 8: 20, 10: 20 }).measure('r', 'b'), ImplausibleLinkError);
  });
});

describe('surveyLinks (the coordinator collecting link reports)', () => {
  it('keeps plausible links, drops absurd ones reported by an agent, and says so in a warning', async () => {
    const records: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n'))
          if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const links = [
      { peer: 'b', latencyMs: 0.3, bandwidthBytesPerSec: GIGABIT },
      { peer: 'c', latencyMs: 0.3, bandwidthBytesPerSec: 734_003e6 / 8 },
    ];
    const dispatcher = {
      measureLinks: async () => ({ type: 'link-report', requestId: 'x', agent: 'a', links, errors: [] }),
    } as unknown as Dispatcher;
    const measured = new Map<string, Link>();
    await surveyLinks(
      [{ id: 'a', dataAddress: '127.0.0.1:1' } as AgentRecord],
      dispatcher,
      measured,
      pino({ level: 'warn' }, sink),
    );
    assert.deepEqual([...measured.keys()], ['a|b']);
    const warning = records.find(
      (r) => r.msg === 'ignored implausible link measurements; those links keep their earlier or assumed figures',
    );
    assert.ok(warning, JSON.stringify(records));
    assert.match(String((warning.dropped as string[])[0]), /^c: 734003 Mbit\/s exceeds 100000 Mbit\/s/);
  });
});
