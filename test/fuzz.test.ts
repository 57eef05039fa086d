import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { maxFrameBytesFor } from '../proto/data-plane/limits.js';
import { UNAUTHENTICATED } from '../proto/data-plane/link.js';
import { dataPlaneProof } from '../proto/security/proofs.js';
import { decodeFrame, encodeFrame, type FrameOf } from '../proto/frames.js';
import type { SimCluster } from '../sim/index.js';
import { mutate, packAny, Rng } from './helpers/fuzz-frames.js';
import {
  alive,
  asBuffer,
  classifyChecked,
  countDroppedFrames,
  countReason,
  FUZZ_AGENTS,
  FuzzLink,
  frameTemplates,
  mergeCounts,
  SEED,
  sleep,
  startFuzzCluster,
  tapLinks,
  TEXTS,
  vmRssMb,
  type Expected,
} from './helpers/fuzz-cluster.js';

/**
 * Robustness of the data plane against a real simulated cluster (test/helpers/fuzz-cluster.ts). The attacker is
 * the worst case: it holds the plan key. The regressions it found are in fuzz-regressions.test.ts, the control
 * plane's share in fuzz-control-plane.test.ts.
 */

const FRAMES = 10_000;
/** Mutants between two flow-control round trips (a stats request per link, answered in order). */
const BATCH = 40;
/**
 * Allowed VmRSS growth of an agent over the 10,000 frames. An agent idles at ~200-250 MB (Node,
 * ONNX Runtime, its shards); a leak of one 16 KiB buffer per frame would already add 160 MB, while
 * the largest tensor a frame may carry is 512 tokens × hidden (0.5 MB here), so legitimate transient
 * working memory (≤ 64 steps in flight) stays well under this.
 */
const AGENT_RSS_GROWTH_MB = 150;
/** The test process hosts the coordinator and the fuzzer (which builds every mutant) alike. */
const COORDINATOR_RSS_GROWTH_MB = 200;

/** Mutations no valid frame can come out of. */
const ALWAYS_INVALID = [
  'field:dtype',
  'field:shape-vs-bytes',
  'field:huge-dims',
  'field:zero-size',
  'field:oversized-consistent',
  'field:string-for-number',
  'bytes:truncate',
  'random-bytes',
];

describe('robustness: mutated data-plane frames (real agent processes)', function () {
  this.timeout(300_000);
  let cluster: SimCluster;
  let expected: Map<string, Expected>;
  let addresses: Map<string, string>;
  let hiddenSize: number;
  let vocabSize: number;
  /** A real stage-0 frame, as the coordinator sent it (so the templates follow the current schema). */
  let captured: FrameOf<'stage-input'>;
  const agents = FUZZ_AGENTS;

  before(async () => {
    ({ cluster, expected, addresses, hiddenSize, vocabSize, captured } = await startFuzzCluster());
  });

  after(async () => cluster?.stop());

  it('unauthenticated peers that send garbage are cut off with 4401 at their first message; the agents keep serving', async () => {
    const key = cluster.coordinator.dataPlaneKey!;
    /** Connects, reads the challenge, does `act`, and reports how the agent closed the connection. */
    const attempt = async (address: string, act: (ws: WebSocket, nonce: string) => void, waitMs = 3000) => {
      const ws = new WebSocket(`ws://${address}`);
      ws.on('error', () => undefined);
      const nonce = await new Promise<string>((resolve, reject) => {
        ws.once('message', (data: Buffer) => {
          const f = decodeFrame(data);
          if (f.type !== 'challenge') reject(new Error(`first frame was ${f.type}`));
          else resolve(f.nonce);
        });
        ws.once('close', () => reject(new Error('closed before the challenge')));
      });
      const started = Date.now();
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      act(ws, nonce);
      const code = await Promise.race([closed, sleep(waitMs).then(() => -1)]);
      if (code === -1) ws.terminate();
      return { code, ms: Date.now() - started, nonce };
    };
    const hello = (nonce: string, overrides: Partial<FrameOf<'hello'>> = {}): FrameOf<'hello'> => ({
      type: 'hello',
      role: 'coordinator',
      from: 'intruder',
      planVersion: key.planVersion,
      proof: dataPlaneProof(key.key, nonce, 'coordinator', 'intruder'),
      ...overrides,
    });
    const rng = new Rng(SEED ^ 0x4401);
    const cases: [string, (ws: WebSocket, nonce: string) => void][] = [
      ['random bytes', (ws) => ws.send(rng.bytes(200), { binary: true })],
      ['a text message', (ws) => ws.send('{"type":"hello"}')],
      ['msgpack that is no frame', (ws) => ws.send(packAny({ a: 1, b: [1, 2] }), { binary: true })],
      ['a hello with a wrong proof', (ws, nonce) => ws.send(encodeFrame(hello(nonce, { proof: 'ab'.repeat(32) })))],
      [
        'a hello proving the key for another name',
        (ws, nonce) => ws.send(encodeFrame(hello(nonce, { from: 'agent-1' }))),
      ],
      [
        'a hello for an unknown plan version',
        (ws, nonce) => ws.send(encodeFrame(hello(nonce, { planVersion: key.planVersion + 7 }))),
      ],
      ["a hello answering another connection's nonce", (ws) => ws.send(encodeFrame(hello('f'.repeat(48))))],
      ['a stage-input before any hello', (ws) => ws.send(encodeFrame({ ...captured, requestId: 'fuzz-early' }))],
      [
        'a stats request before any hello',
        (ws) => ws.send(encodeFrame({ type: 'stats-request', requestId: 'fuzz-early' })),
      ],
      ['a challenge of its own', (ws) => ws.send(encodeFrame({ type: 'challenge', nonce: 'n'.repeat(32) }))],
    ];
    for (const agent of agents) {
      const address = addresses.get(agent)!;
      for (const [what, act] of cases) {
        const { code, ms } = await attempt(address, act);
        assert.equal(code, UNAUTHENTICATED, `${agent}, ${what}: closed with ${code} after ${ms} ms`);
      }
    }
    // A hundred garbage connections at once, and one that says nothing (cut at the handshake timeout).
    const address = addresses.get('agent-1')!;
    const silent = attempt(address, () => undefined, 8000);
    const crowd = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        attempt(address, (ws) => ws.send(rng.bytes(1 + (i % 64)), { binary: true })),
      ),
    );
    assert.deepEqual([...new Set(crowd.map((c) => c.code))], [UNAUTHENTICATED]);
    assert.equal((await silent).code, UNAUTHENTICATED);
    // Positive control: the right proof is accepted (the link stays open and is served).
    const good = await attempt(
      address,
      (ws, nonce) => {
        ws.send(encodeFrame(hello(nonce)));
        ws.send(encodeFrame({ type: 'stats-request', requestId: 'fuzz-good' }));
      },
      1000,
    );
    assert.equal(good.code, -1, `a correct hello was refused (${good.code})`);
    assert.deepEqual(alive(cluster), [true, true, true]);
    for (const text of TEXTS.slice(0, 3))
      assert.equal(await classifyChecked(cluster.url, text, expected.get(text)!), undefined);
  });

  it(`${FRAMES} mutated frames from a peer holding the plan key: no agent dies, concurrent requests get the reference answers, memory stays bounded`, async () => {
    const key = cluster.coordinator.dataPlaneKey!;
    assert.equal(key.planVersion, cluster.plan.version);
    const list = frameTemplates({ cluster, expected, addresses, hiddenSize, vocabSize, captured }, key.planVersion);
    const links = new Map(
      agents.map((a) => [a, new FuzzLink(a, addresses.get(a)!, key, maxFrameBytesFor(hiddenSize))]),
    );
    await Promise.all([...links.values()].map((l) => l.open()));
    const statsBefore = new Map(await Promise.all([...links].map(async ([a, l]) => [a, await l.stats()] as const)));
    const rssBefore = new Map(cluster.agents.map((a) => [a.name, vmRssMb(a.child.pid!)]));
    const coordinatorRssBefore = process.memoryUsage().rss / 2 ** 20;

    // What reaches the coordinator for request ids the fuzzer made up (it must ignore all of it).
    const toCoordinator = new Map<string, number>();
    const errorReasons = new Map<string, number>();
    const malformedAtCoordinator = new Map<string, number>();
    /** Accepted stage-inputs and scatters sent, and their answers seen (results, errors, partials). */
    let computeSent = 0;
    let computeReplies = 0;
    let maxOutstanding = 0;
    const repliesOnLinks = () =>
      [...links.values()].reduce((n, l) => n + (l.received.get('partial') ?? 0) + (l.received.get('error') ?? 0), 0);
    const untap = tapLinks((link, data) => {
      if ([...links.values()].some((l) => l.link === link)) return;
      try {
        const f = decodeFrame(asBuffer(data));
        if (!('requestId' in f) || !f.requestId.startsWith('fuzz')) return;
        toCoordinator.set(f.type, (toCoordinator.get(f.type) ?? 0) + 1);
        if (f.type === 'error') countReason(errorReasons, f.message);
        if (f.type === 'result' || f.type === 'error') computeReplies++;
      } catch (err) {
        toCoordinator.set('malformed', (toCoordinator.get('malformed') ?? 0) + 1);
        countReason(malformedAtCoordinator, (err as Error).message);
        computeReplies++;
      }
    });
    const dropped = countDroppedFrames(cluster);

    // Real traffic, two requests at a time, for as long as the fuzzing lasts.
    let fuzzing = true;
    const wrong: string[] = [];
    let answered = 0;
    const traffic = async (offset: number) => {
      for (let i = offset; fuzzing; i += 2) {
        const text = TEXTS[i % TEXTS.length]!;
        const problem = await classifyChecked(cluster.url, text, expected.get(text)!);
        if (problem) wrong.push(problem);
        else answered++;
      }
    };
    const trafficDone = Promise.all([traffic(0), traffic(1)]);

    const rng = new Rng(SEED);
    const ctx = { planVersion: key.planVersion, vocabSize };
    const tally = new Map<string, { rejected: number; accepted: number }>();
    const sentTo = new Map(agents.map((a) => [a, { rejected: 0, accepted: 0 }]));
    let rejected = 0;
    const started = performance.now();
    try {
      for (let i = 0; i < FRAMES; i++) {
        const m = mutate(rng, list, agents, ctx);
        let ok: boolean;
        try {
          const f = decodeFrame(m.bytes); // the agents validate with this same function
          ok = true;
          if (f.type === 'stage-input' || f.type === 'scatter') computeSent++;
        } catch {
          ok = false;
        }
        if (!ok) rejected++;
        const kind = m.mutation.includes('+') ? `field+${m.mutation.split('+')[1]}` : m.mutation;
        const row = tally.get(kind) ?? { rejected: 0, accepted: 0 };
        row[ok ? 'accepted' : 'rejected']++;
        tally.set(kind, row);
        sentTo.get(m.target)![ok ? 'accepted' : 'rejected']++;
        await links.get(m.target)!.send(m.bytes);
        if ((i + 1) % BATCH === 0) {
          // Flow control: every agent has decoded all of this batch before the next one goes out, and
          // accepted mutants that run the model do not pile up (an agent refuses work beyond 64 steps,
          // real requests included). The count is approximate (a flipped byte in a request id hides
          // its answer), so the wait is capped and then the count starts afresh.
          await Promise.all([...links.values()].map((l) => l.stats())).catch(async (err: Error) => {
            await sleep(500); // a process's exit is reported a little after its sockets close
            const dead = cluster.agents.filter((a) => a.child.exitCode !== null || a.child.signalCode !== null);
            throw new Error(
              `${err.message} after ${i + 1} frames; dead agents: ${dead.map((a) => `${a.name} (${a.child.exitCode ?? a.child.signalCode})`).join(', ') || 'none'}\n${dead.map((a) => a.stderrTail().slice(-1500)).join('\n')}`,
            );
          });
          const outstanding = () => computeSent - computeReplies - repliesOnLinks();
          maxOutstanding = Math.max(maxOutstanding, outstanding());
          for (let waited = 0; outstanding() > 16 && waited < 500; waited += 5) await sleep(5);
          if (outstanding() > 16) computeSent = computeReplies + repliesOnLinks();
          if ((i + 1) % (BATCH * 25) === 0) {
            const state = alive(cluster);
            assert.deepEqual(
              state,
              [true, true, true],
              `an agent died after ${i + 1} frames:\n${cluster.agents.map((a) => a.stderrTail().slice(-2000)).join('\n')}`,
            );
          }
        }
      }
    } finally {
      fuzzing = false;
      await trafficDone;
    }
    const fuzzMs = performance.now() - started;
    // Let accepted mutants finish (group waits time out after 10 s at most, but they answer in ms here).
    await sleep(1500);
    const statsAfter = new Map(await Promise.all([...links].map(async ([a, l]) => [a, await l.stats()] as const)));
    await sleep(200);
    dropped.stop();
    untap();
    const rssAfter = new Map(cluster.agents.map((a) => [a.name, vmRssMb(a.child.pid!)]));
    const coordinatorRssAfter = process.memoryUsage().rss / 2 ** 20;

    // (a) every agent process is alive, and the fuzz links were never dropped
    assert.deepEqual(alive(cluster), [true, true, true]);
    // An agent ends an authenticated link only for a frame over its plan's limit, and for every one.
    for (const l of links.values()) {
      assert.deepEqual(
        l.closeCodes,
        l.closeCodes.map(() => 1009),
        `${l.agent} closed an authenticated link for another reason`,
      );
      assert.equal(
        l.closeCodes.length,
        l.oversizedSent,
        `${l.agent}: ${l.oversizedSent} oversized frames, ${l.closeCodes.length} links closed`,
      );
    }
    // (b) every concurrent real request got the reference answer
    assert.deepEqual(wrong, []);
    assert.ok(answered >= 20, `only ${answered} real requests ran during the fuzzing`);
    // ... and one more after it
    for (const text of TEXTS.slice(0, 4))
      assert.equal(await classifyChecked(cluster.url, text, expected.get(text)!), undefined);
    // (c) memory bounded
    const growth = agents.map((a) => rssAfter.get(a)! - rssBefore.get(a)!);
    growth.forEach((g, i) => assert.ok(g < AGENT_RSS_GROWTH_MB, `${agents[i]} grew by ${g.toFixed(1)} MB`));
    assert.ok(
      coordinatorRssAfter - coordinatorRssBefore < COORDINATOR_RSS_GROWTH_MB,
      `coordinator process grew by ${(coordinatorRssAfter - coordinatorRssBefore).toFixed(1)} MB`,
    );
    // Each agent refused exactly the mutants the validator refuses: none slipped past it, and no
    // accepted mutant made an agent forward a frame its next hop had to refuse.
    for (const a of agents) {
      assert.equal(
        dropped.counts.get(a),
        sentTo.get(a)!.rejected,
        `${a} logged ${dropped.counts.get(a)} dropped frames for ${sentTo.get(a)!.rejected} invalid ones sent`,
      );
    }
    assert.ok(rejected > FRAMES * 0.5 && rejected < FRAMES, `rejected ${rejected} of ${FRAMES}`);
    // Mutations that always break the frame's own consistency (dtype, shape and byte length, sizes
    // no request has) must never get past validation.
    for (const kind of ALWAYS_INVALID) {
      const row = tally.get(kind);
      assert.ok(row && row.rejected > 0, `no ${kind} mutants were sent`);
      assert.equal(row.accepted, 0, `${row.accepted} ${kind} mutants passed validation`);
    }

    const delta = (a: string, k: 'stageRuns' | 'partialRuns') => statsAfter.get(a)![k] - statsBefore.get(a)![k];
    const summary = {
      frames: FRAMES,
      fuzzSeconds: +(fuzzMs / 1000).toFixed(1),
      rejectedByValidation: rejected,
      accepted: FRAMES - rejected,
      perTarget: Object.fromEntries(sentTo),
      agentLoggedDrops: Object.fromEntries(dropped.counts),
      repliesToFuzzer: Object.fromEntries(agents.map((a) => [a, Object.fromEntries(links.get(a)!.received)])),
      coordinatorGotForFuzzIds: Object.fromEntries(toCoordinator),
      maxOutstandingCompute: maxOutstanding,
      agentErrorReasons: Object.fromEntries(
        [...mergeCounts([errorReasons, ...[...links.values()].map((l) => l.errors)])].sort((x, y) => y[1] - x[1]),
      ),
      malformedAtCoordinator: Object.fromEntries(malformedAtCoordinator),
      stageRuns: Object.fromEntries(agents.map((a) => [a, delta(a, 'stageRuns')])),
      partialRuns: Object.fromEntries(agents.map((a) => [a, delta(a, 'partialRuns')])),
      realRequestsAnswered: answered,
      agentRssMb: Object.fromEntries(
        agents.map((a) => [a, `${rssBefore.get(a)!.toFixed(0)} -> ${rssAfter.get(a)!.toFixed(0)}`]),
      ),
      coordinatorRssMb: `${coordinatorRssBefore.toFixed(0)} -> ${coordinatorRssAfter.toFixed(0)}`,
      byMutation: Object.fromEntries(
        [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, `${v.rejected}/${v.accepted}`]),
      ),
    };
    console.log(`      fuzz summary (byMutation: rejected/accepted): ${JSON.stringify(summary, null, 1)}`);
    for (const l of links.values()) l.close();
  });
});
