import { IO, positionOrder, positionRows, positionTiles, type SeqPhase } from '@edgerelay/proto';
import type { GroupMember__Output as GroupMember, Stage__Output as Stage } from '@edgerelay/proto';
import { float32Tensor, int64Tensor, type HostTensor } from '../runtime/index.js';
import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import type { LoadedPlan } from './loaded-plan.js';
import { RowMailbox, type RowBlock } from './row-mailbox.js';
import { sendRowChunks, type SeqRunParts } from './seq-run.js';

/**
 * One request's pass through a position-parallel stage on one member, the host included
 * (docs/sequence-parallel.md). Every member holds whole layers and owns a slice of the sequence's positions (the
 * host the first, so position 0, which exit heads read, is its own). Per layer: project its positions to keys and
 * values, send them to every other member and gather theirs (the layer's one exchange), then run the rest of the
 * layer on its own positions. After the stage's last layer the members send their positions to the host.
 */
export class PositionRun {
  readonly run: string;
  private readonly order: GroupMember[];
  private readonly ranges: [number, number][];
  private readonly me: number;
  private readonly hidden: number;
  private readonly seq: number;
  private failure: Error | undefined;
  /** This member's positions of the current layer input, [1, n, hidden]. */
  private own: HostTensor | undefined;
  /** A layer whose exchange startLayer began: every position's keys and values, this member's already in. */
  private started: { layer: number; all: Float32Array; width: number } | undefined;
  waitMs = 0;
  done = false;

  constructor(
    private readonly parts: SeqRunParts,
    private readonly ids: { requestId: string; planVersion: number; stage: number },
    private readonly stage: Stage,
    private readonly loaded: LoadedPlan,
    /** [1, seq]: position-parallel runs take one sequence at a time. */
    private readonly mask: HostTensor,
    /** The stage input's dims: [1, seq, hidden] on the host, [1, n, hidden] (its positions) on another member. */
    dims: number[],
  ) {
    this.run = RowMailbox.run(ids.requestId, ids.stage);
    this.seq = mask.dims[1]!;
    this.hidden = dims[2]!;
    this.order = positionOrder(stage);
    this.ranges = positionRows(
      this.seq,
      this.order.map((m) => m.positionShare),
    );
    this.me = this.order.findIndex((m) => m.agentId === parts.agentId);
  }

  /** What the host sends each other member at the stage's start: that member's positions of [1, seq, hidden]. */
  static memberInputs(stage: Stage, hidden: HostTensor): Map<string, HostTensor> {
    const order = positionOrder(stage);
    const [seq, H] = [hidden.dims[1]!, hidden.dims[2]!];
    const ranges = positionRows(
      seq,
      order.map((m) => m.positionShare),
    );
    const data = hidden.data as Float32Array;
    // The host (first in position order) cuts its own positions itself (ownOf).
    return new Map(
      order.slice(1).map((m, k) => {
        const [a, b] = ranges[k + 1]!;
        return [m.agentId, float32Tensor(data.slice(a * H, b * H), [1, b - a, H])];
      }),
    );
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.parts.mailbox.close(this.run, err);
  }

  private send(to: number, layer: number, phase: SeqPhase, rowStart: number, data: Float32Array, width: number) {
    const block = { layer, phase, rowStart, data, width };
    sendRowChunks(this.parts, this.ids, this.order[to]!.agentId, this.loaded, block, (err) => this.fail(err));
  }

  /** Takes every other member's positions of `phase` into `into` ([seq, width]). */
  private async gather(layer: number, phase: SeqPhase, into: Float32Array, width: number): Promise<void> {
    const [p0, p1] = this.ranges[this.me]!;
    for (let got = p1 - p0; got < this.seq;) {
      if (this.failure) throw this.failure;
      const t = performance.now();
      let b: RowBlock;
      try {
        b = await this.parts.mailbox.take(this.run, RowMailbox.key(this.run, layer, phase));
      } finally {
        this.waitMs += performance.now() - t;
      }
      const end = b.rowStart + b.rows;
      const fromOther = this.ranges.some(([a, e], i) => i !== this.me && b.rowStart >= a && end <= e);
      if (b.rows === 0 || b.data.length !== b.rows * width || !fromOther)
        throw new StepRefusedError(
          STEP_REFUSED_CODES.badRows,
          `a peer sent positions [${b.rowStart}, ${end}) of width ${b.data.length / Math.max(1, b.rows)} for ${phase} of layer ${layer}; this member expects other members' positions of width ${width}`,
        );
      into.set(b.data, b.rowStart * width);
      got += b.rows;
    }
  }

  /**
   * This member's positions of the layer input, [1, n, hidden]: cut from every position (the host's stage input),
   * or the input itself (the positions the host sent this member). The run keeps them from layer to layer.
   */
  private ownOf(input: HostTensor): HostTensor {
    if (this.own) return this.own;
    const [p0, p1] = this.ranges[this.me]!;
    const H = this.hidden;
    const rows = input.dims[1]!;
    if (rows === this.seq)
      return (this.own = float32Tensor((input.data as Float32Array).slice(p0 * H, p1 * H), [1, p1 - p0, H]));
    if (rows !== p1 - p0 || input.dims[2] !== H)
      throw new StepRefusedError(
        STEP_REFUSED_CODES.badRows,
        `the stage input has ${rows} positions of width ${input.dims[2]}; this member owns ${p1 - p0} of ${this.seq} (width ${H}): the host and this agent disagree on the plan's position shares`,
      );
    return (this.own = input);
  }

  /**
   * Begins a layer's exchange: projects this member's positions to keys and values and sends them to every other
   * member. The host calls it before running the previous layer's exit head, so the head runs while the others'
   * keys and values travel; layer() calls it when nobody did.
   */
  async startLayer(layer: number, input: HostTensor): Promise<void> {
    const [p0, p1] = this.ranges[this.me]!;
    if (p1 === p0 || this.started?.layer === layer) return;
    const kv = await this.projectAndSend(layer, this.ownOf(input), p0);
    const all = new Float32Array(this.seq * kv.width);
    all.set(kv.data, p0 * kv.width);
    this.started = { layer, all, width: kv.width };
  }

  /**
   * The layer tile by tile (`Stage.position_tiles`): each tile's output is projected to the next layer's keys and
   * values and sent at once, so they travel while the next tile computes, and only the last tile's are still on
   * the wire when this member finishes the layer. Begins the next layer's exchange as startLayer would.
   */
  private async layerByTiles(
    layer: number,
    tiles: [number, number][],
    own: HostTensor,
    keysValues: HostTensor,
  ): Promise<HostTensor> {
    const H = this.hidden;
    const [p0, p1] = this.ranges[this.me]!;
    const ownData = own.data as Float32Array;
    const out = new Float32Array((p1 - p0) * H);
    let next: { layer: number; all: Float32Array; width: number } | undefined;
    for (const [a, b] of tiles) {
      const tile = float32Tensor(ownData.subarray((a - p0) * H, (b - p0) * H), [1, b - a, H]);
      const hidden = (await runPositionLayer(this.loaded, layer, tile, keysValues, this.mask, a))[IO.hiddenOut]!;
      this.parts.stats.partialRuns++;
      out.set(hidden.data as Float32Array, (a - p0) * H);
      const kv = await this.projectAndSend(layer + 1, hidden, a);
      next ??= { layer: layer + 1, all: new Float32Array(this.seq * kv.width), width: kv.width };
      next.all.set(kv.data, a * kv.width);
    }
    this.started = next;
    return float32Tensor(out, [1, p1 - p0, H]);
  }

  /** Projects positions from `rowStart` to the layer's keys and values and sends them to every other member. */
  private async projectAndSend(
    layer: number,
    hidden: HostTensor,
    rowStart: number,
  ): Promise<{ data: Float32Array; width: number }> {
    // Ring order (the next member first): in each round every member sends to a different one, so no member's
    // downlink takes everyone's keys and values at once.
    const N = this.order.length;
    const owners = Array.from({ length: N - 1 }, (_, k) => (this.me + 1 + k) % N).filter(
      (i) => this.ranges[i]![1] > this.ranges[i]![0],
    );
    const kv = (await this.loaded.session({ kind: 'keys-values', layer }).run({ [IO.hidden]: hidden }))[IO.keysValues]!;
    const width = kv.dims[2]!;
    const data = kv.data as Float32Array;
    for (const j of owners) this.send(j, layer, 'keys-values', rowStart, data, width);
    return { data, width };
  }

  /**
   * One layer. Returns, on the host, its own positions ([1, n, hidden]: what exit heads read) and after the stage's
   * last layer every position; on another member its positions, or undefined after the last layer.
   */
  async layer(layer: number, input: HostTensor): Promise<HostTensor | undefined> {
    const H = this.hidden;
    const [p0, p1] = this.ranges[this.me]!;
    const n = p1 - p0;
    const own = this.ownOf(input);
    if (n === 0) {
      // No positions of its own (a short sequence, a small share): nothing to compute, and the others send it
      // nothing. The host always owns position 0, so this is never the host.
      if (layer === this.stage.layerEnd - 1) this.done = true;
      return this.done ? undefined : own;
    }
    await this.startLayer(layer, input);
    const { all, width } = this.started!;
    this.started = undefined;
    await this.gather(layer, 'keys-values', all, width);
    const keysValues = float32Tensor(all, [1, this.seq, width]);
    const last = layer === this.stage.layerEnd - 1;
    // The stage's last layer has no next layer's keys and values to send early: it runs whole.
    const tiles = positionTiles([p0, p1], last ? 1 : this.stage.positionTiles);
    if (tiles.length === 1) {
      this.own = (await runPositionLayer(this.loaded, layer, own, keysValues, this.mask, p0))[IO.hiddenOut]!;
      this.parts.stats.partialRuns++;
    } else this.own = await this.layerByTiles(layer, tiles, own, keysValues);

    const isHost = this.order[this.me]!.agentId === this.stage.host;
    if (!last) return this.own;
    this.done = true;
    if (!isHost) {
      if (n > 0) this.send(0, layer, 'out', p0, this.own.data as Float32Array, H);
      return undefined;
    }
    const full = new Float32Array(this.seq * H);
    full.set(this.own.data as Float32Array, p0 * H);
    await this.gather(layer, 'out', full, H);
    return float32Tensor(full, [1, this.seq, H]);
  }
}

/**
 * A position-parallel stage's layer on its host alone, on every position (requests the members cannot share:
 * token pruning changes the positions between layers, a batch of several sequences): the same two shards.
 */
export async function positionLayerAlone(
  loaded: LoadedPlan,
  layer: number,
  hidden: HostTensor,
  mask: HostTensor,
): Promise<{ hidden: HostTensor; scores: HostTensor }> {
  const kv = (await loaded.session({ kind: 'keys-values', layer }).run({ [IO.hidden]: hidden }))[IO.keysValues]!;
  const out = await runPositionLayer(loaded, layer, hidden, kv, mask, 0);
  return { hidden: out[IO.hiddenOut]!, scores: out[IO.attentionReceived]! };
}

/** The position-layer shard on `hidden`, the positions from `queryOffset`, against every position's keys and values. */
function runPositionLayer(
  loaded: LoadedPlan,
  layer: number,
  hidden: HostTensor,
  keysValues: HostTensor,
  mask: HostTensor,
  queryOffset: number,
): Promise<Record<string, HostTensor>> {
  return loaded.session({ kind: 'position-layer', layer }).run({
    [IO.hidden]: hidden,
    [IO.keysValues]: keysValues,
    [IO.attentionMask]: mask,
    [IO.queryOffset]: int64Tensor(BigInt64Array.of(BigInt(queryOffset)), [1]),
  });
}
