import { floatWireDtype, IO, sequenceRows, type FrameOf, type SeqPhase } from '@edgerelay/proto';
import type { GroupMember__Output as GroupMember, Stage__Output as Stage } from '@edgerelay/proto';
import { float32Tensor, toWire, type HostTensor } from '../runtime/index.js';
import type { LoadedPlan } from './loaded-plan.js';
import { RowMailbox, type RowBlock } from './row-mailbox.js';
import type { AgentStats } from './stats.js';
import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';

export type SeqFrame = FrameOf<'seq-start'> | FrameOf<'seq-rows'> | FrameOf<'seq-cancel'>;

export interface SeqRunParts {
  agentId: string;
  mailbox: RowMailbox;
  send(agentId: string, frame: SeqFrame): Promise<void>;
  stats: AgentStats;
  /** Rows per seq-rows frame at most: smaller chunks let a receiver start computing sooner. */
  chunkRows: number;
  /** The FFN runs on each block as it arrives only when every member's block has at least this many rows. */
  overlapMinRows: number;
}

/**
 * One request's pass through a sequence-parallel stage on one member (the host included). Per layer:
 * attention partial on the whole input, reduce-scatter (each member receives the others' partials for its
 * rows), residual + bias + LayerNorm on its rows, then the FFN overlapped with the all-gather: every block of
 * combined rows (its own first, then others' as they arrive) goes through this member's FFN columns and the
 * partial goes straight back to the rows' owner, who sums and combines; finally the layer output is
 * all-gathered (to the host only after the stage's last layer). The host sees every row of every layer, so
 * exits run there as in a host-gather group.
 */
export class SeqRun {
  readonly run: string;
  private readonly ranges: [number, number][];
  private readonly me: number;
  private readonly hidden: number;
  private failure: Error | undefined;
  /** Time spent waiting for peers' rows. */
  waitMs = 0;
  /** The stage's last layer has run: every member is done with this run. */
  done = false;

  constructor(
    private readonly parts: SeqRunParts,
    private readonly ids: { requestId: string; planVersion: number; stage: number },
    private readonly stage: Stage,
    private readonly loaded: LoadedPlan,
    private readonly mask: HostTensor,
    /** [batch, seq, hidden] of every hidden state of the run. */
    private readonly dims: number[],
    /** The step-size feed of parameter-shared combine shards (1: the ordinary model). */
    private readonly feed: Record<string, HostTensor>,
  ) {
    this.run = RowMailbox.run(ids.requestId, ids.stage);
    this.hidden = dims[2]!;
    this.ranges = sequenceRows(dims[0]! * dims[1]!, stage.members.length);
    this.me = stage.members.findIndex((m) => m.agentId === parts.agentId);
  }

  private get members(): GroupMember[] {
    return this.stage.members;
  }

  private rowsOf(i: number): number {
    const [a, b] = this.ranges[i]!;
    return b - a;
  }

  /** Others that take part in `test`, by member index. */
  private others(test: (m: GroupMember, i: number) => boolean): number[] {
    return this.members.flatMap((m, i) => (i !== this.me && test(m, i) ? [i] : []));
  }

  /** A send that fails (the peer is gone) fails the run: its waits stop at once instead of timing out. */
  fail(err: Error): void {
    this.failure ??= err;
    this.parts.mailbox.close(this.run, err);
  }

  private sendRows(to: number, layer: number, phase: SeqPhase, rowStart: number, data: Float32Array): void {
    const block = { layer, phase, rowStart, data, width: this.hidden };
    sendRowChunks(this.parts, this.ids, this.members[to]!.agentId, this.loaded, block, (err) => this.fail(err));
  }

  private async take(layer: number, phase: SeqPhase): Promise<RowBlock> {
    if (this.failure) throw this.failure;
    const t = performance.now();
    try {
      return await this.parts.mailbox.take(this.run, RowMailbox.key(this.run, layer, phase));
    } finally {
      this.waitMs += performance.now() - t;
    }
  }

  /** Takes blocks until `rows` rows have arrived, handing each to `use` as it comes. */
  private async collect(layer: number, phase: SeqPhase, rows: number, use: (b: RowBlock) => Promise<void> | void) {
    // Partial sums (attention, ffn) are for this member's rows; combined rows (attended, out) are another's.
    const [r0, r1] = this.ranges[this.me]!;
    const mine = phase === 'attention' || phase === 'ffn';
    for (let got = 0; got < rows;) {
      const b = await this.take(layer, phase);
      const end = b.rowStart + b.rows;
      const inMine = b.rowStart >= r0 && end <= r1;
      const inOther = this.ranges.some(([a, e], i) => i !== this.me && b.rowStart >= a && end <= e);
      if (b.data.length !== b.rows * this.hidden || b.rows === 0 || (mine ? !inMine : !inOther))
        throw new StepRefusedError(
          STEP_REFUSED_CODES.badRows,
          `a peer sent rows [${b.rowStart}, ${end}) of width ${b.data.length / Math.max(1, b.rows)} for ${phase} of layer ${layer}, which this member does not expect`,
        );
      got += b.rows;
      await use(b);
    }
  }

  private async runShard(spec: Parameters<LoadedPlan['session']>[0], feeds: Record<string, HostTensor>) {
    return (await this.loaded.session(spec).run({ ...this.feed, ...feeds }))!;
  }

  /** Rows [a, b) of a full [batch × seq, hidden] array, as a [1, n, hidden] tensor (a copy: ONNX Runtime gets whole buffers). */
  private slice(data: Float32Array, a: number, b: number): HostTensor {
    return float32Tensor(data.slice(a * this.hidden, b * this.hidden), [1, b - a, this.hidden]);
  }

  /**
   * Whether the FFN runs block by block as rows arrive (overlap), or once on all rows: a block must have at
   * least overlapMinRows rows, or its session run's fixed cost outweighs what the overlap saves.
   */
  private overlaps(): boolean {
    const blocks = this.ranges.map(([a, b]) => b - a).filter((n) => n > 0);
    return blocks.length > 1 && Math.min(...blocks) >= this.parts.overlapMinRows;
  }

  /** One layer; returns the full output, or undefined after the stage's last layer on a member that is not the host. */
  async layer(layer: number, input: HostTensor): Promise<HostTensor | undefined> {
    const H = this.hidden;
    const x = input.data as Float32Array;
    const mine = this.members[this.me]!;
    const [r0, r1] = this.ranges[this.me]!;
    const n = r1 - r0;
    const owners = (i: number) => this.rowsOf(i) > 0;

    // Attention: partial on every row, reduce-scatter by rows.
    const attended = new Float32Array(n * H);
    if (mine.heads.length > 0) {
      const p = (
        await this.runShard(
          { kind: 'attention-partial', layer, heads: mine.heads, attentionReceived: true },
          {
            [IO.hidden]: input,
            [IO.attentionMask]: this.mask,
          },
        )
      )[IO.partial]!.data as Float32Array;
      this.parts.stats.partialRuns++;
      for (const j of this.others((_, i) => owners(i))) {
        const [a, b] = this.ranges[j]!;
        this.sendRows(j, layer, 'attention', a, p.subarray(a * H, b * H));
      }
      attended.set(p.subarray(r0 * H, r1 * H));
    }
    const headOwners = this.others((m) => m.heads.length > 0).length;
    if (n > 0) await this.collect(layer, 'attention', headOwners * n, (b) => addRows(attended, b, r0, H));
    let a: Float32Array | undefined;
    if (n > 0) {
      a = (
        await this.runShard(
          { kind: 'attention-combine', layer },
          {
            [IO.hidden]: this.slice(x, r0, r1),
            [IO.partialSum]: float32Tensor(attended, [1, n, H]),
          },
        )
      )[IO.hiddenOut]!.data as Float32Array;
      for (const j of this.others((m) => m.ffnColumns.length > 0)) this.sendRows(j, layer, 'attended', r0, a);
    }

    // FFN, overlapped with the all-gather: each block of combined rows is computed as soon as it is here.
    const ffnSum = new Float32Array(n * H);
    const ffnBlock = async (rowStart: number, rows: Float32Array) => {
      const f = (
        await this.runShard(
          { kind: 'ffn-partial', layer, columns: mine.ffnColumns },
          {
            [IO.hidden]: float32Tensor(rows, [1, rows.length / H, H]),
          },
        )
      )[IO.partial]!.data as Float32Array;
      this.parts.stats.partialRuns++;
      if (rowStart >= r0 && rowStart < r1) return addRows(ffnSum, { rowStart, rows: f.length / H, data: f }, r0, H);
      const owner = this.ranges.findIndex(([s, e]) => rowStart >= s && rowStart < e);
      this.sendRows(owner, layer, 'ffn', rowStart, f);
    };
    const work: Promise<void>[] = [];
    const othersRows = x.length / H - n;
    if (mine.ffnColumns.length > 0 && this.overlaps()) {
      const ownFirst = a && n > 0 ? ffnBlock(r0, a) : Promise.resolve();
      work.push(ownFirst.then(() => this.collect(layer, 'attended', othersRows, (b) => ffnBlock(b.rowStart, b.data))));
    } else if (mine.ffnColumns.length > 0) {
      // Blocks too small to pay a session run each: gather every row, one FFN run, then scatter the partial.
      const whole = new Float32Array(x.length);
      if (a) whole.set(a, r0 * H);
      work.push(
        this.collect(layer, 'attended', othersRows, (b) => whole.set(b.data, b.rowStart * H)).then(async () => {
          const f = (
            await this.runShard(
              { kind: 'ffn-partial', layer, columns: mine.ffnColumns },
              { [IO.hidden]: float32Tensor(whole, [1, x.length / H, H]) },
            )
          )[IO.partial]!.data as Float32Array;
          this.parts.stats.partialRuns++;
          for (const j of this.others((_, i) => owners(i))) {
            const [ja, jb] = this.ranges[j]!;
            this.sendRows(j, layer, 'ffn', ja, f.subarray(ja * H, jb * H));
          }
          if (n > 0) addRows(ffnSum, { rowStart: r0, rows: n, data: f.subarray(r0 * H, r1 * H) }, r0, H);
        }),
      );
    }
    const columnOwners = this.others((m) => m.ffnColumns.length > 0).length;
    if (n > 0) work.push(this.collect(layer, 'ffn', columnOwners * n, (b) => addRows(ffnSum, b, r0, H)));
    await Promise.all(work);

    let y: Float32Array | undefined;
    if (n > 0) {
      y = (
        await this.runShard(
          { kind: 'ffn-combine', layer },
          {
            [IO.hidden]: float32Tensor(a!, [1, n, H]),
            [IO.partialSum]: float32Tensor(ffnSum, [1, n, H]),
          },
        )
      )[IO.hiddenOut]!.data as Float32Array;
    }

    // The layer output: to everyone for the next layer, to the host alone after the stage's last.
    const last = layer === this.stage.layerEnd - 1;
    const isHost = this.members[this.me]!.agentId === this.stage.host;
    const host = this.members.findIndex((m) => m.agentId === this.stage.host);
    if (y) for (const j of this.others((_, i) => !last || i === host)) this.sendRows(j, layer, 'out', r0, y);
    if (last && !isHost) {
      this.done = true;
      return undefined;
    }
    const out = new Float32Array(x.length);
    if (y) out.set(y, r0 * H);
    await this.collect(layer, 'out', othersRows, (b) => out.set(b.data, b.rowStart * H));
    this.done = last;
    return float32Tensor(out, [...this.dims]);
  }
}

/**
 * Sends rows [rowStart, rowStart + n) of `data` ([n, width]) to `agentId` as seq-rows frames of at most
 * parts.chunkRows rows each, in the plan's wire dtype; a send that fails (the peer is gone) calls `fail`.
 */
export function sendRowChunks(
  parts: SeqRunParts,
  ids: { requestId: string; planVersion: number; stage: number },
  agentId: string,
  loaded: LoadedPlan,
  block: { layer: number; phase: SeqPhase; rowStart: number; data: Float32Array; width: number },
  fail: (err: Error) => void,
): void {
  const { layer, phase, rowStart, data, width } = block;
  const rows = data.length / width;
  const chunk = Math.max(1, parts.chunkRows);
  const dtype = floatWireDtype(loaded.plan.wireDtype);
  for (let r = 0; r < rows; r += chunk) {
    const n = Math.min(chunk, rows - r);
    const t = float32Tensor(data.subarray(r * width, (r + n) * width), [1, n, width]);
    parts
      .send(agentId, {
        type: 'seq-rows',
        requestId: ids.requestId,
        planVersion: ids.planVersion,
        stage: ids.stage,
        layer,
        phase,
        rowStart: rowStart + r,
        rows: toWire(t, dtype),
      })
      .catch(fail);
  }
}

/** Adds a block of rows into `sum`, which holds rows from `start`. */
function addRows(sum: Float32Array, b: RowBlock, start: number, H: number): void {
  const offset = (b.rowStart - start) * H;
  for (let i = 0; i < b.data.length; i++) sum[offset + i]! += b.data[i]!;
}
