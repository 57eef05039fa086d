import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadCheckpoint } from '../../coordinator/checkpoint/index.js';
import { readLabelledTsv } from '../../coordinator/datasets/index.js';
import { ReferenceRunner } from '../../coordinator/reference/index.js';
import { loadTokenizer } from '../../coordinator/tokenizer/index.js';
import { dial, Link } from '../../proto/data-plane/link.js';
import { decodeFrame, type Frame, type FrameOf } from '../../proto/frames.js';
import { startSimCluster, type SimCluster } from '../../sim/index.js';
import { FIXTURE_DEV, FIXTURE_DIR } from './fixture.js';
import { FIXTURE_PLANS, writePlan } from './plans.js';
import { packAny, Rng, wireTensor, type FrameTemplate } from './fuzz-frames.js';

/**
 * The cluster the robustness tests attack (fuzz*.test.ts), and the tools they share: three agent processes on the
 * "mixed" plan (stage 0 on agent-0, stage 1 a group hosted by agent-1 with members agent-2 and agent-0), the
 * single-node reference's answers to compare with, and one real stage-0 frame as the coordinator sent it.
 */
export const TEXTS = readLabelledTsv(FIXTURE_DEV)
  .map((e) => e.sentence)
  .slice(0, 16);

export const SEED = 0x5eed_f00d;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function vmRssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export function alive(cluster: SimCluster): boolean[] {
  return cluster.agents.map((a) => a.child.exitCode === null && a.child.signalCode === null);
}

export interface Expected {
  label: string;
  score: number;
}

/** One real request through the HTTP API, compared with the single-node reference. */
export async function classifyChecked(url: string, text: string, expected: Expected): Promise<string | undefined> {
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
export function countDroppedFrames(cluster: SimCluster): { counts: Map<string, number>; stop: () => void } {
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

export function mergeCounts(maps: Map<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

export type Tap = (link: Link, data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean) => void;

/**
 * Sees every data-plane message any Link of this process receives (the coordinator's links to its
 * stage hosts included) by wrapping Link's receive step; returns the function that unwraps it.
 */
export function tapLinks(tap: Tap): () => void {
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
export function countReason(into: Map<string, number>, message: string): void {
  const reason = message
    .replace(/^agent-\d+: /, '')
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, '#')
    .slice(0, 90);
  into.set(reason, (into.get(reason) ?? 0) + 1);
}

export const asBuffer = (data: Buffer | Buffer[] | ArrayBuffer) =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);

/** An authenticated data-plane link for the fuzzer: counts what comes back and answers flow-control syncs. */
export class FuzzLink {
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

export interface FuzzCluster {
  cluster: SimCluster;
  /** The single-node reference's answer to each of TEXTS. */
  expected: Map<string, Expected>;
  addresses: Map<string, string>;
  hiddenSize: number;
  vocabSize: number;
  /** A real stage-0 frame, as the coordinator sent it (so templates follow the current schema). */
  captured: FrameOf<'stage-input'>;
}

export const FUZZ_AGENTS = ['agent-0', 'agent-1', 'agent-2'];

/** Starts the cluster, captures a stage-0 frame on its way out of the coordinator, and warms every agent up. */
export async function startFuzzCluster(): Promise<FuzzCluster> {
  let captured: FrameOf<'stage-input'> | undefined;

  const checkpoint = await loadCheckpoint(FIXTURE_DIR);
  const hiddenSize = checkpoint.config.hiddenSize;
  const vocabSize = checkpoint.config.vocabSize;
  const runner = await ReferenceRunner.create(checkpoint, loadTokenizer(FIXTURE_DIR), { threads: 1 });
  const expected = new Map((await runner.classify(TEXTS, 16)).map((r) => [r.text, { label: r.label, score: r.score }]));
  await runner.release();
  const cluster = await startSimCluster({ model: FIXTURE_DIR, agents: 3, planFile: writePlan(FIXTURE_PLANS.mixed!) });
  // The coordinator's own data-plane warnings (results it drops) are expected here; agents keep
  // logging at warn, which the frame counts below rely on.
  const logger = (cluster.coordinator as unknown as { options?: { logger?: { level: string } } }).options?.logger;
  if (logger) logger.level = 'error';
  const addresses = new Map(cluster.plan.endpoints.map((e) => [e.agentId, e.dataAddress]));
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
  return { cluster, expected, addresses, hiddenSize, vocabSize, captured };
}

/** One valid frame of every kind an agent takes, aimed at the agents that hold what it names: what the mutants start from. */
export function frameTemplates(fc: FuzzCluster, planVersion: number): FrameTemplate[] {
  const { captured, hiddenSize, cluster } = fc;
  const agents = FUZZ_AGENTS;
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
