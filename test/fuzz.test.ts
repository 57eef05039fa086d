import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { loadCheckpoint } from '../coordinator/checkpoint/index.js';
import { readLabelledTsv } from '../coordinator/datasets/index.js';
import { ReferenceRunner } from '../coordinator/reference/index.js';
import { loadTokenizer } from '../coordinator/tokenizer/index.js';
import { SESSION_METADATA } from '../proto/control.js';
import { maxFrameBytesFor } from '../proto/data-plane/limits.js';
import { dial, Link, UNAUTHENTICATED } from '../proto/data-plane/link.js';
import { dataPlaneProof, registerProof } from '../proto/security/proofs.js';
import { controlPlane, type CoordinatorClient } from '../proto/control.js';
import { decodeFrame, encodeFrame, type Frame, type FrameOf } from '../proto/frames.js';
import { startSimCluster, type SimCluster } from '../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './helpers/fixture.js';
import { mutate, packAny, Rng, wireTensor, type FrameTemplate } from './helpers/fuzz-frames.js';
import { FIXTURE_PLANS, writePlan } from './helpers/plans.js';

/**
 * Robustness of both wire protocols against a real simulated cluster (three agent processes, the
 * "mixed" plan: stage 0 on agent-0, stage 1 a group hosted by agent-1 with members agent-2 and
 * agent-0). The data-plane attacker is the worst case: it holds the plan key.
 */

const TEXTS = readLabelledTsv(FIXTURE_DEV)
  .map((e) => e.sentence)
  .slice(0, 16);
const FRAMES = 10_000;
const SEED = 0x5eed_f00d;
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function vmRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

function alive(cluster: SimCluster): boolean[] {
  return cluster.agents.map((a) => a.child.exitCode === null && a.child.signalCode === null);
}

interface Expected {
  label: string;
  score: number;
}

/** One real request through the HTTP API, compared with the single-node reference. */
async function classifyChecked(url: string, text: string, expected: Expected): Promise<string | undefined> {
  const res = await fetch(`${url}/v1/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: text }),
  });
  const body = await res.text();
  if (res.status !== 200) return `HTTP ${res.status} for "${text}": ${body}`;
  const top = (JSON.parse(body) as { label: string; score: number }[][])[0]![0]!;
  if (top.label !== expected.label || Math.abs(top.score - expected.score) > 1e-4) {
    return `"${text}": got ${top.label} ${top.score}, reference ${expected.label} ${expected.score}`;
  }
  return undefined;
}

/** Counts "dropped a malformed data-plane frame" lines on an agent's stderr (its pino warn log). */
function countDroppedFrames(cluster: SimCluster): { counts: Map<string, number>; stop: () => void } {
  const counts = new Map(cluster.agents.map((a) => [a.name, 0]));
  const stops = cluster.agents.map((a) => {
    let partial = '';
    const onData = (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines)
        if (line.includes('dropped a malformed data-plane frame')) counts.set(a.name, counts.get(a.name)! + 1);
    };
    a.child.stderr!.on('data', onData);
    return () => a.child.stderr!.off('data', onData);
  });
  return { counts, stop: () => stops.forEach((s) => s()) };
}

function mergeCounts(maps: Map<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

type Tap = (link: Link, data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean) => void;

/**
 * Sees every data-plane message any Link of this process receives (the coordinator's links to its
 * stage hosts included) by wrapping Link's receive step; returns the function that unwraps it.
 */
function tapLinks(tap: Tap): () => void {
  const proto = Link.prototype as unknown as {
    receive: (this: Link, data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean) => void;
  };
  const original = proto.receive;
  assert.equal(typeof original, 'function', 'Link no longer has a receive step to tap');
  proto.receive = function (data, isBinary) {
    tap(this, data, isBinary);
    return original.call(this, data, isBinary);
  };
  return () => {
    proto.receive = original;
  };
}

/** Error messages grouped by kind: agent names, ids and numbers blanked out. */
function countReason(into: Map<string, number>, message: string): void {
  const reason = message
    .replace(/^agent-\d+: /, '')
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, '#')
    .slice(0, 90);
  into.set(reason, (into.get(reason) ?? 0) + 1);
}

const asBuffer = (data: Buffer | Buffer[] | ArrayBuffer) =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);

/** An authenticated data-plane link for the fuzzer: counts what comes back and answers flow-control syncs. */
class FuzzLink {
  readonly received = new Map<string, number>();
  /** Why the agent refused accepted mutants it was asked to compute (error frames back to us). */
  readonly errors = new Map<string, number>();
  /** Close codes of the authenticated links the agent ended (only 1009, for mutants over the plan's frame limit). */
  readonly closeCodes: number[] = [];
  /** Mutants sent that exceed the plan's frame limit: each must end its link with 1009, unread. */
  oversizedSent = 0;
  private syncs = new Map<string, (f: FrameOf<'stats'>) => void>();
  private syncCounter = 0;
  private onClose: ((err: Error) => void)[] = [];
  link!: Link;

  constructor(
    readonly agent: string,
    private readonly address: string,
    private readonly key: { planVersion: number; key: Uint8Array },
    private readonly maxFrameBytes: number,
  ) {}

  async open(): Promise<void> {
    this.link = await dial(
      this.address,
      { role: 'coordinator', from: 'fuzzer' },
      this.key,
      (frame) => {
        this.received.set(frame.type, (this.received.get(frame.type) ?? 0) + 1);
        if (frame.type === 'stats') this.syncs.get(frame.requestId)?.(frame);
        if (frame.type === 'error') countReason(this.errors, frame.message);
      },
      () => this.received.set('malformed', (this.received.get('malformed') ?? 0) + 1),
    );
    this.link.socket.on('close', (code) => {
      this.closeCodes.push(code);
      for (const fail of this.onClose.splice(0)) fail(new Error(`${this.agent} closed the fuzz link (${code})`));
    });
  }

  async send(bytes: Buffer): Promise<void> {
    if (!this.link.open) await this.open();
    if (bytes.byteLength <= this.maxFrameBytes) {
      this.link.socket.send(bytes, { binary: true });
      return;
    }
    // Over the plan's limit: the agent refuses it from the header and ends the link; go on with a new one.
    this.oversizedSent++;
    const socket = this.link.socket;
    const closed = new Promise((r) => socket.once('close', r));
    socket.send(bytes, { binary: true });
    await Promise.race([closed, sleep(5000)]);
  }

  /** A stats request: answered once the agent has decoded everything sent before it. */
  async stats(timeoutMs = 10_000): Promise<FrameOf<'stats'>> {
    if (!this.link.open) await this.open();
    const requestId = `sync-${this.agent}-${++this.syncCounter}`;
    return new Promise((resolve, reject) => {
      this.onClose.push(reject);
      const timer = setTimeout(() => {
        this.syncs.delete(requestId);
        reject(new Error(`${this.agent} did not answer ${requestId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.syncs.set(requestId, (f) => {
        clearTimeout(timer);
        this.syncs.delete(requestId);
        resolve(f);
      });
      this.link.send({ type: 'stats-request', requestId });
    });
  }

  close(): void {
    this.link?.close();
  }
}

describe('robustness: mutated data-plane frames and malformed control-plane calls (real agent processes)', function () {
  this.timeout(300_000);
  let cluster: SimCluster;
  let expected: Map<string, Expected>;
  let addresses: Map<string, string>;
  let hiddenSize: number;
  let vocabSize: number;
  /** A real stage-0 frame, as the coordinator sent it (so the templates follow the current schema). */
  let captured: FrameOf<'stage-input'>;
  const agents = ['agent-0', 'agent-1', 'agent-2'];

  before(async () => {
    const checkpoint = await loadCheckpoint(FIXTURE_DIR);
    hiddenSize = checkpoint.config.hiddenSize;
    vocabSize = checkpoint.config.vocabSize;
    const runner = await ReferenceRunner.create(checkpoint, loadTokenizer(FIXTURE_DIR), { threads: 1 });
    expected = new Map((await runner.classify(TEXTS, 16)).map((r) => [r.text, { label: r.label, score: r.score }]));
    await runner.release();
    cluster = await startSimCluster({ model: FIXTURE_DIR, agents: 3, planFile: writePlan(FIXTURE_PLANS.mixed!) });
    // The coordinator's own data-plane warnings (results it drops) are expected here; agents keep
    // logging at warn, which the frame counts below rely on.
    const logger = (cluster.coordinator as unknown as { options?: { logger?: { level: string } } }).options?.logger;
    if (logger) logger.level = 'error';
    addresses = new Map(cluster.plan.endpoints.map((e) => [e.agentId, e.dataAddress]));
    // Capture one real stage-0 frame on its way out of the coordinator.
    const original = Link.prototype.send;
    Link.prototype.send = function (frame: Frame) {
      if (frame.type === 'stage-input' && !captured) captured = structuredClone(frame);
      return original.call(this, frame);
    };
    try {
      // max-prob 0.5 always fires at the first exit (two labels): accepted mutants of this template stay cheap.
      const res = await fetch(`${cluster.url}/v1/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: TEXTS[0], parameters: { exit_threshold: 0.5 } }),
      });
      assert.equal(res.status, 200);
    } finally {
      Link.prototype.send = original;
    }
    assert.ok(captured, 'the coordinator sent no stage-input frame');
    // Warm every agent up (sessions, links) before any memory reading.
    for (const text of TEXTS.slice(0, 4))
      assert.equal(await classifyChecked(cluster.url, text, expected.get(text)!), undefined);
  });

  after(async () => cluster?.stop());

  function templates(planVersion: number): FrameTemplate[] {
    const rng = new Rng(SEED ^ 0x7e3);
    const [, seq] = captured.attentionMask.shape as [number, number];
    const ids = new BigInt64Array(
      captured.inputIds!.data.buffer.slice(
        captured.inputIds!.data.byteOffset,
        captured.inputIds!.data.byteOffset + captured.inputIds!.data.byteLength,
      ),
    );
    const mask = wireTensor('int64', [1, seq], new BigInt64Array(seq).fill(1n));
    const hidden = () =>
      wireTensor(
        'float32',
        [1, seq, hiddenSize],
        Float32Array.from({ length: seq * hiddenSize }, () => rng.next() * 2 - 1),
      );
    const common = { requestId: 'fuzz-template', planVersion };
    const stage0 = { ...captured, ...common, inputIds: wireTensor('int64', [1, seq], ids), attentionMask: mask };
    const { inputIds: _ids, ...stageLaterBase } = stage0;
    const stageLater = { ...stageLaterBase, stage: 1, hidden: hidden() };
    // Layers of the group stage (stage 1 of the mixed plan).
    const group = cluster.plan.stages[1]!;
    const layer = (i: number) => group.layerStart + (i % (group.layerEnd - group.layerStart));
    const list: FrameTemplate[] = [
      { name: 'stage-input/0', frame: stage0, targets: ['agent-0'] },
      { name: 'stage-input/1', frame: stageLater, targets: ['agent-1'] },
      // agent-2 holds every head and FFN columns [0, 600); agent-0 only FFN columns.
      {
        name: 'scatter/attention',
        frame: {
          type: 'scatter',
          ...common,
          layer: layer(0),
          part: 'attention',
          hidden: hidden(),
          attentionMask: mask,
        },
        targets: ['agent-2'],
      },
      {
        name: 'scatter/ffn',
        frame: { type: 'scatter', ...common, layer: layer(1), part: 'ffn', hidden: hidden(), attentionMask: mask },
        targets: ['agent-2', 'agent-0'],
      },
      {
        name: 'partial',
        frame: { type: 'partial', ...common, layer: layer(2), part: 'ffn', partial: hidden(), computeMs: 1.5 },
        targets: ['agent-1'],
      },
      {
        name: 'result',
        frame: { type: 'result', ...common, exitLayer: 5, early: false, logits: [0.3, -0.2], trace: [] },
        targets: agents,
      },
      { name: 'interim', frame: { type: 'interim', ...common, exitLayer: 2, logits: [0.3, -0.2] }, targets: agents },
      {
        name: 'error',
        frame: { type: 'error', ...common, message: 'member failed', retryable: true },
        targets: ['agent-1'],
      },
      { name: 'stats-request', frame: { type: 'stats-request', requestId: 'fuzz-stats' }, targets: agents },
    ];
    // Every template is a valid frame: the mutants start from the real thing.
    for (const t of list) decodeFrame(packAny(t.frame));
    return list;
  }

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
    const list = templates(key.planVersion);
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

  describe('regressions found by the fuzzer', () => {
    it('a well-formed hidden state longer than any request (2048 tokens) is refused at decoding and never reaches ONNX Runtime', async () => {
      // Before the frame checked its tensors against a request's limits, this one frame made agent-1
      // scatter 2048-token attention to agent-2, which computed for seconds (missing heartbeats, so
      // the coordinator evicted it and replanned) while agent-0 grew by 600 MB.
      const key = cluster.coordinator.dataPlaneKey!;
      const seq = 2048;
      const mask = wireTensor('int64', [1, seq], new BigInt64Array(seq).fill(1n));
      const hidden = wireTensor('float32', [1, seq, hiddenSize], new Float32Array(seq * hiddenSize).fill(0.5));
      const { inputIds: _ids, ...rest } = captured;
      const frames: [string, object][] = [
        [
          'agent-1',
          { ...rest, requestId: 'fuzz-long', planVersion: key.planVersion, stage: 1, hidden, attentionMask: mask },
        ],
        [
          'agent-2',
          {
            type: 'scatter',
            requestId: 'fuzz-long',
            planVersion: key.planVersion,
            layer: cluster.plan.stages[1]!.layerStart,
            part: 'attention',
            hidden,
            attentionMask: mask,
          },
        ],
      ];
      const dropped = countDroppedFrames(cluster);
      try {
        for (const [agent, frame] of frames) {
          const link = new FuzzLink(agent, addresses.get(agent)!, key, maxFrameBytesFor(hiddenSize));
          await link.open();
          const before = await link.stats();
          const started = performance.now();
          await link.send(packAny(frame));
          const after = await link.stats();
          const ms = performance.now() - started;
          await sleep(100);
          assert.equal(dropped.counts.get(agent), 1, `${agent} did not refuse the 2048-token frame`);
          assert.equal(
            after.stageRuns - before.stageRuns + after.partialRuns - before.partialRuns,
            0,
            `${agent} ran the 2048-token frame`,
          );
          assert.ok(ms < 1000, `${agent} took ${ms.toFixed(0)} ms to answer after the frame`);
          assert.throws(() => decodeFrame(packAny(frame)), /512 tokens/);
          link.close();
        }
      } finally {
        dropped.stop();
      }
      assert.deepEqual(alive(cluster), [true, true, true]);
    });

    it('a request id sent twice to a group host fails the second at once instead of stranding the first for the group timeout', async () => {
      // Before, the second wait on (request, layer, part) replaced the first: the members' partials
      // all went to the second, and the first hung for the 10 s group timeout holding a step slot.
      const key = cluster.coordinator.dataPlaneKey!;
      const { inputIds: _ids, ...rest } = captured;
      const [, seq] = captured.attentionMask.shape as [number, number];
      const frame = {
        ...rest,
        requestId: 'fuzz-dup',
        planVersion: key.planVersion,
        stage: 1,
        hidden: wireTensor('float32', [1, seq, hiddenSize], new Float32Array(seq * hiddenSize).fill(0.25)),
      };
      const seen: string[] = [];
      const untap = tapLinks((_link, data) => {
        try {
          const f = decodeFrame(asBuffer(data));
          if ('requestId' in f && f.requestId === 'fuzz-dup' && (f.type === 'result' || f.type === 'error'))
            seen.push(f.type === 'error' ? `error: ${f.message}` : 'result');
        } catch {
          /* not ours */
        }
      });
      const link = new FuzzLink('agent-1', addresses.get('agent-1')!, key, maxFrameBytesFor(hiddenSize));
      try {
        await link.open();
        await link.send(packAny(frame));
        await link.send(packAny(frame));
        for (let waited = 0; seen.length < 2 && waited < 3000; waited += 20) await sleep(20);
      } finally {
        untap();
        link.close();
      }
      assert.equal(seen.length, 2, `answers within 3 s: ${JSON.stringify(seen)}`);
      assert.ok(seen.includes('result'), JSON.stringify(seen));
      assert.ok(
        seen.some((m) => /duplicate request id/.test(m)),
        JSON.stringify(seen),
      );
    });
  });

  describe('control plane (gRPC)', () => {
    let raw: grpc.Client;
    let typed: CoordinatorClient;
    const METHODS: [string, boolean][] = [
      ['Register', false],
      ['Challenge', false],
      ['Heartbeat', false],
      ['WatchAssignments', true],
      ['FetchShard', true],
      ['ReportReady', false],
      ['Leave', false],
    ];

    before(() => {
      const address = `127.0.0.1:${cluster.coordinator.grpcPort}`;
      raw = new grpc.Client(address, grpc.credentials.createInsecure());
      typed = new (controlPlane().Coordinator)(address, grpc.credentials.createInsecure());
    });
    after(() => {
      raw?.close();
      typed?.close();
    });

    interface Outcome {
      code: number;
      details: string;
      response?: Buffer;
      messages: number;
    }
    const identity = (b: Buffer) => b;

    /** One call with raw bytes as the request; resolves with its status, never hangs past the deadline. */
    function rawCall(
      method: string,
      stream: boolean,
      bytes: Buffer,
      metadata = new grpc.Metadata(),
      timeoutMs = 5000,
    ): Promise<Outcome> {
      const path = `/edgerelay.control.Coordinator/${method}`;
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve) => {
        if (!stream) {
          raw.makeUnaryRequest(path, identity, identity, bytes, metadata, { deadline }, (err, res) =>
            resolve(
              err
                ? { code: err.code, details: err.details, messages: 0 }
                : { code: 0, details: '', response: res, messages: 1 },
            ),
          );
          return;
        }
        const call = raw.makeServerStreamRequest(path, identity, identity, bytes, metadata, { deadline });
        let messages = 0;
        call.on('data', () => messages++);
        call.on('error', () => undefined);
        call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details, messages }));
      });
    }

    function typedCall<Res>(
      method: keyof CoordinatorClient,
      request: object,
      metadata = new grpc.Metadata(),
      client = typed,
    ): Promise<{ code: number; details: string; res?: Res }> {
      const fn = client[method] as unknown as (
        req: object,
        md: grpc.Metadata,
        opts: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: Res) => void,
      ) => unknown;
      return new Promise((resolve) =>
        fn.call(client, request, metadata, { deadline: Date.now() + 3000 }, (err, res) =>
          resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', res }),
        ),
      );
    }

    function typedStream(
      method: 'WatchAssignments' | 'FetchShard',
      request: object,
      metadata = new grpc.Metadata(),
      client = typed,
    ): Promise<Outcome> {
      return new Promise((resolve) => {
        const call = (
          client[method] as unknown as (
            req: object,
            md: grpc.Metadata,
            opts: grpc.CallOptions,
          ) => grpc.ClientReadableStream<unknown>
        ).call(client, request, metadata, { deadline: Date.now() + 3000 });
        let messages = 0;
        call.on('data', () => messages++);
        call.on('error', () => undefined);
        call.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details, messages }));
      });
    }

    const capabilities = {
      cores: 1,
      cpuModel: 'fuzz',
      memoryTotalBytes: 1,
      memoryFreeBytes: 1,
      loadAverage: 0,
      gflops: 1,
      threads: 1,
      platform: 'linux',
      arch: 'x64',
    };

    async function stillServing(): Promise<void> {
      assert.deepEqual(alive(cluster), [true, true, true]);
      assert.deepEqual(
        cluster.coordinator.registry
          .connected()
          .map((a) => a.id)
          .sort(),
        agents,
      );
      assert.equal(cluster.coordinator.activePlan!.version, cluster.plan.version, 'the plan changed');
      for (const text of TEXTS.slice(0, 3))
        assert.equal(await classifyChecked(cluster.url, text, expected.get(text)!), undefined);
    }

    it('~2000 calls of random bytes to every method all end with a status before their deadline; none admits the caller', async () => {
      const rng = new Rng(SEED ^ 0x69c);
      const calls = 2100;
      const outcomes = new Map<string, Map<number, number>>();
      const problems: string[] = [];
      const started = performance.now();
      const payload = (i: number): Buffer => {
        if (i % 300 === 0) return rng.bytes(5 * 2 ** 20); // over the server's 4 MiB request limit
        if (i % 50 === 1) return Buffer.alloc(0); // every field at its default
        return rng.bytes(rng.int(512));
      };
      // 32 calls in flight; a call that never gets a status holds up one worker, not the rest.
      let next = 0;
      const worker = async () => {
        while (next < calls) {
          const i = next++;
          const [method, stream] = METHODS[i % METHODS.length]!;
          const bytes = payload(i);
          const md = new grpc.Metadata();
          if (rng.chance(0.5)) md.set(SESSION_METADATA, rng.bytes(24).toString('hex'));
          const o = await rawCall(method, stream, bytes, md, 2000);
          const byCode = outcomes.get(method) ?? new Map<number, number>();
          byCode.set(o.code, (byCode.get(o.code) ?? 0) + 1);
          outcomes.set(method, byCode);
          if (o.code === grpc.status.DEADLINE_EXCEEDED)
            problems.push(`call ${i}: ${method} with ${bytes.length} random bytes got no status before its deadline`);
          if (stream && o.messages > 0)
            problems.push(`call ${i}: ${method} streamed ${o.messages} messages to a random caller`);
          if (o.code !== grpc.status.OK) continue;
          // A Challenge is public, and a Heartbeat from a stranger is answered "unknown". Nothing else may succeed.
          if (method !== 'Challenge' && method !== 'Heartbeat')
            problems.push(`call ${i}: ${method} accepted ${bytes.length} random bytes`);
          if (
            method === 'Heartbeat' &&
            (controlPlane().Coordinator.service.Heartbeat.responseDeserialize(o.response!) as { known: boolean }).known
          ) {
            problems.push(`call ${i}: a random heartbeat was told it is known`);
          }
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `      ${calls} random calls in ${seconds.toFixed(1)} s; status codes by method: ${JSON.stringify(Object.fromEntries([...outcomes].map(([m, c]) => [m, Object.fromEntries(c)])))}`,
      );
      for (const [method] of METHODS) assert.ok(outcomes.get(method)!.size > 0);
      await stillServing();
      assert.deepEqual(problems, []);
    });

    it('well-formed but invalid calls are refused, a stranger cannot join or impersonate an agent, and the right cluster token still registers', async () => {
      const { status } = grpc;
      // Status mismatches are collected, so one run reports all of them.
      const problems: string[] = [];
      const want = (what: string, got: { code: number; details: string }, code: number) => {
        if (got.code !== code) problems.push(`${what}: got ${status[got.code]} (${got.details}), want ${status[code]}`);
      };
      const challenge = async () =>
        (await typedCall<{ nonce: string; tokenRequired: boolean }>('Challenge', { name: 'x' })).res!;
      const register = (req: object) =>
        typedCall<{ agentId: string; session: string }>('Register', { capabilities, cachedShards: [], ...req });
      assert.equal((await challenge()).tokenRequired, true);

      // Shape of the request
      for (const name of ['', 'a'.repeat(65), 'two words', '../../etc', 'agent\u00e9', 'x\u0000y']) {
        want(
          `Register named ${JSON.stringify(name)}`,
          await register({ name, dataAddress: '127.0.0.1:1' }),
          status.INVALID_ARGUMENT,
        );
      }
      for (const dataAddress of ['', 'h'.repeat(1_000_000) + ':1', 'no-port', '127.0.0.1:', 'a b:1']) {
        want(
          `Register with a data_address of ${dataAddress.length} chars`,
          await register({ name: 'fuzz-x', dataAddress }),
          status.INVALID_ARGUMENT,
        );
      }
      want(
        'Register without capabilities',
        await typedCall('Register', { name: 'fuzz-x', dataAddress: '127.0.0.1:1' }),
        status.INVALID_ARGUMENT,
      );

      // Proof of the cluster token
      const token = cluster.clusterToken;
      const refused = async (req: object, why: string) =>
        want(`Register with ${why}`, await register(req), status.PERMISSION_DENIED);
      await refused({ name: 'fuzz-x', dataAddress: '127.0.0.1:1' }, 'no nonce, no proof');
      let c = await challenge();
      await refused({ name: 'fuzz-x', dataAddress: '127.0.0.1:1', nonce: c.nonce }, 'no proof');
      c = await challenge();
      await refused(
        {
          name: 'fuzz-x',
          dataAddress: '127.0.0.1:1',
          nonce: c.nonce,
          proof: registerProof('not-the-token', c.nonce, 'fuzz-x', '127.0.0.1:1'),
        },
        'a wrong token',
      );
      c = await challenge();
      await refused(
        {
          name: 'fuzz-x',
          dataAddress: '127.0.0.1:1',
          nonce: c.nonce,
          proof: registerProof(token, c.nonce, 'fuzz-y', '127.0.0.1:1'),
        },
        'a proof for another name',
      );
      c = await challenge();
      await refused(
        {
          name: 'fuzz-x',
          dataAddress: '127.0.0.1:2',
          nonce: c.nonce,
          proof: registerProof(token, c.nonce, 'fuzz-x', '127.0.0.1:1'),
        },
        'a proof for another address',
      );
      await refused(
        {
          name: 'fuzz-x',
          dataAddress: '127.0.0.1:1',
          nonce: 'f'.repeat(48),
          proof: registerProof(token, 'f'.repeat(48), 'fuzz-x', '127.0.0.1:1'),
        },
        'a nonce the coordinator never issued',
      );
      // A stranger cannot take over an agent's name.
      const agent0 = cluster.coordinator.registry.get('agent-0')!.dataAddress;
      c = await challenge();
      await refused(
        { name: 'agent-0', dataAddress: '127.0.0.1:9', nonce: c.nonce, proof: 'ab'.repeat(32) },
        'a forged proof for agent-0',
      );
      assert.equal(cluster.coordinator.registry.get('agent-0')!.dataAddress, agent0);
      assert.equal(cluster.coordinator.registry.get('fuzz-x'), undefined);

      // Calls that need a registration (and its session)
      const noSession = new grpc.Metadata();
      const badSession = new grpc.Metadata();
      badSession.set(SESSION_METADATA, 'ab'.repeat(24));
      for (const [label, md] of [
        ['without a session', noSession],
        ['with a wrong session', badSession],
      ] as const) {
        assert.equal(
          (await typedCall<{ known: boolean }>('Heartbeat', { agentId: 'agent-1', planVersion: 1 }, md)).res?.known,
          false,
          `Heartbeat as agent-1 ${label}`,
        );
        want(
          `ReportReady as agent-1 ${label}`,
          await typedCall('ReportReady', { agentId: 'agent-1', planVersion: 99, ok: false, error: 'forged' }, md),
          status.UNAUTHENTICATED,
        );
        want(`Leave as agent-1 ${label}`, await typedCall('Leave', { agentId: 'agent-1' }, md), status.UNAUTHENTICATED);
        want(
          `WatchAssignments as agent-1 ${label}`,
          await typedStream('WatchAssignments', { agentId: 'agent-1' }, md),
          status.UNAUTHENTICATED,
        );
        want(
          `FetchShard as agent-1 ${label}`,
          await typedStream('FetchShard', { agentId: 'agent-1', sha256: '0'.repeat(64) }, md),
          status.UNAUTHENTICATED,
        );
      }
      assert.equal((await typedCall<{ known: boolean }>('Heartbeat', { agentId: 'nobody' })).res?.known, false);
      want(
        'ReportReady for an unknown agent',
        await typedCall('ReportReady', { agentId: 'nobody', planVersion: 1, ok: true }),
        status.NOT_FOUND,
      );
      want('Leave for an empty agent id', await typedCall('Leave', { agentId: '' }), status.NOT_FOUND);
      // Ids of 100 kB: the refusal must still arrive. Each goes on its own connection (grpc-js shares
      // one per target otherwise), since a status that cannot be delivered stalls the connection.
      const fresh = () =>
        new (controlPlane().Coordinator)(
          `127.0.0.1:${cluster.coordinator.grpcPort}`,
          grpc.credentials.createInsecure(),
          { 'grpc.use_local_subchannel_pool': 1 },
        );
      const longId = 'x'.repeat(100_000);
      for (const [what, call] of [
        [
          'ReportReady for a 100 kB agent id',
          (c: CoordinatorClient) =>
            typedCall('ReportReady', { agentId: longId, planVersion: 1, ok: true }, new grpc.Metadata(), c),
        ],
        [
          'WatchAssignments for a 100 kB agent id',
          (c: CoordinatorClient) => typedStream('WatchAssignments', { agentId: longId }, new grpc.Metadata(), c),
        ],
      ] as const) {
        const client = fresh();
        want(what, await call(client), status.NOT_FOUND);
        client.close();
      }

      // Positive control: the right token registers (so the refusals above are not an accident), the
      // nonce works once, and the session it returns is what the later calls check.
      c = await challenge();
      const proof = registerProof(token, c.nonce, 'fuzz-probe', '127.0.0.1:1');
      const ok = await register({ name: 'fuzz-probe', dataAddress: '127.0.0.1:1', nonce: c.nonce, proof });
      assert.equal(ok.code, status.OK, ok.details);
      assert.equal(ok.res!.agentId, 'fuzz-probe');
      await refused({ name: 'fuzz-probe', dataAddress: '127.0.0.1:1', nonce: c.nonce, proof }, 'a replayed nonce');
      const session = new grpc.Metadata();
      session.set(SESSION_METADATA, ok.res!.session);
      assert.equal(
        (await typedCall<{ known: boolean }>('Heartbeat', { agentId: 'fuzz-probe' }, session)).res?.known,
        true,
      );
      assert.equal(
        (await typedCall<{ known: boolean }>('Heartbeat', { agentId: 'fuzz-probe' }, badSession)).res?.known,
        false,
      );
      for (const sha256 of ['0'.repeat(64), '../../../etc/passwd', '', 'x'.repeat(10_000), 'x'.repeat(100_000)]) {
        const client = fresh();
        const o = await typedStream('FetchShard', { agentId: 'fuzz-probe', sha256 }, session, client);
        client.close();
        want(`FetchShard of a ${sha256.length}-char sha256 with a valid session`, o, status.NOT_FOUND);
        assert.equal(o.messages, 0);
      }
      await stillServing();
      assert.deepEqual(problems, []);
    });
  });
});
