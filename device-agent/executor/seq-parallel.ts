import { floatWireDtype, groupFormOf, IO, toWire, type FrameOf, type HostTensor } from '@edgerelay/proto';
import type { Stage__Output as Stage } from '@edgerelay/proto';
import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import { memberShare, stageLayers } from '../plan/roles.js';
import { fromWire } from '../runtime/index.js';
import type { LoadedPlan } from './loaded-plan.js';
import { RowMailbox } from './row-mailbox.js';
import { SeqRun, type SeqFrame } from './seq-run.js';
import { PositionRun } from './position-run.js';
import type { AgentStats } from './stats.js';

/** A group run of either form that exchanges rows among members. */
export type GroupRun = SeqRun | PositionRun;

const exchangesRows = (stage: Stage) => groupFormOf(stage) !== 'host-gather';

export interface SeqOptions {
  agentId: string;
  /** How long a member waits for a peer's rows (the group timeout). */
  timeoutMs: number;
  /** Rows per seq-rows frame at most (overlap granularity). */
  chunkRows: number;
  /** Blocks of at least this many rows are computed as they arrive; smaller ones are gathered first. */
  overlapMinRows: number;
}

/** Defaults: rows per seq-rows frame, and the smallest block the FFN runs on as it arrives (docs/sequence-parallel.md). */
export const SEQ_CHUNK_ROWS = 64;
export { SEQ_OVERLAP_MIN_ROWS } from '@edgerelay/proto';

/** The step size of an ordinary pass (parameter-shared combine shards take it; others ignore it). */
const UNIT_STEP: Record<string, HostTensor> = {
  [IO.stepSize]: { dtype: 'float32', data: Float32Array.of(1), dims: [1] },
};

const cancelled = (run: string) =>
  new StepRefusedError(STEP_REFUSED_CODES.groupCancelled, `the group's host ended ${run} on this agent`);

/**
 * Sequence-parallel groups on this agent (docs/sequence-parallel.md): the host's side (start the members,
 * run its own share layer by layer, cancel what is left when it answers early or fails) and a member's
 * (run every layer of the stage on the host's input, exchanging rows with the other members).
 */
export class SeqParallel {
  readonly mailbox: RowMailbox;
  /** Runs this agent hosts, until the stage is over. */
  private readonly hosting = new Map<string, { run: GroupRun; stage: Stage; planVersion: number }>();

  constructor(
    private readonly options: SeqOptions,
    private readonly send: (agentId: string, frame: SeqFrame) => Promise<void>,
    private readonly stats: AgentStats,
  ) {
    this.mailbox = new RowMailbox(options.timeoutMs);
  }

  private newRun(
    ids: { requestId: string; planVersion: number; stage: number },
    stage: Stage,
    loaded: LoadedPlan,
    mask: HostTensor,
    dims: number[],
    feed: Record<string, HostTensor>,
  ): GroupRun {
    const parts = {
      agentId: this.options.agentId,
      mailbox: this.mailbox,
      send: this.send,
      stats: this.stats,
      chunkRows: this.options.chunkRows,
      overlapMinRows: this.options.overlapMinRows,
    };
    if (groupFormOf(stage) === 'position-parallel') return new PositionRun(parts, ids, stage, loaded, mask, dims);
    return new SeqRun(parts, ids, stage, loaded, mask, dims, feed);
  }

  /**
   * The host's run of a sequence- or position-parallel stage, its members started on `hidden`; undefined when the
   * stage is neither, or when the request needs its host to see every row between layers (token pruning, ODE steps
   * skipping layers): sequence-parallel members hold the same shards, so the host-gather path serves it, and a
   * position-parallel host runs such a request alone. Position-parallel runs take one sequence at a time; a
   * batch of several also runs on the host alone.
   */
  host(
    frame: FrameOf<'stage-input'>,
    stage: Stage,
    loaded: LoadedPlan,
    hidden: HostTensor,
    mask: HostTensor,
    options: { hostGatherOnly: boolean; feed: Record<string, HostTensor> },
  ): GroupRun | undefined {
    if (!exchangesRows(stage) || options.hostGatherOnly) return undefined;
    if (groupFormOf(stage) === 'position-parallel' && hidden.dims[0] !== 1) return undefined;
    if (!memberShare(stage, this.options.agentId)) return undefined;
    const ids = { requestId: frame.requestId, planVersion: frame.planVersion, stage: frame.stage };
    const run = this.newRun(ids, stage, loaded, mask, hidden.dims, options.feed);
    this.hosting.set(run.run, { run, stage, planVersion: frame.planVersion });
    const dtype = floatWireDtype(loaded.plan.wireDtype);
    // A position-parallel member gets only its positions; a sequence-parallel one needs every row.
    const slices = run instanceof PositionRun ? PositionRun.memberInputs(stage, hidden) : undefined;
    const wire = slices ? undefined : toWire(hidden, dtype);
    for (const m of stage.members) {
      // A member without positions of this (short) sequence has nothing to do.
      if (m.agentId === this.options.agentId || slices?.get(m.agentId)!.dims[1] === 0) continue;
      this.send(m.agentId, {
        type: 'seq-start',
        ...ids,
        hidden: wire ?? toWire(slices!.get(m.agentId)!, dtype),
        attentionMask: frame.attentionMask,
      }).catch((err: Error) => run.fail(err));
    }
    return run;
  }

  /** The host is done with the stage (forwarded, answered early, or failed): members still at it stop. */
  finish(requestId: string, stage: number): void {
    const key = RowMailbox.run(requestId, stage);
    const h = this.hosting.get(key);
    if (!h) return;
    this.hosting.delete(key);
    this.mailbox.close(key, cancelled(key));
    if (h.run.done) return;
    for (const m of h.stage.members) {
      if (m.agentId === this.options.agentId) continue;
      this.send(m.agentId, { type: 'seq-cancel', requestId, planVersion: h.planVersion, stage }).catch(() => undefined);
    }
  }

  /** A member's side: every layer of the stage, from the host's input; the host gets the last layer's rows. */
  async runMember(frame: FrameOf<'seq-start'>, loaded: LoadedPlan): Promise<void> {
    const stage = loaded.plan.stages[frame.stage];
    const me = this.options.agentId;
    if (!stage || !exchangesRows(stage) || !memberShare(stage, me) || stage.host === me)
      throw new StepRefusedError(
        STEP_REFUSED_CODES.noShare,
        `this agent is no member of a sequence- or position-parallel stage ${frame.stage} in plan ${loaded.version}`,
      );
    const hidden = fromWire(frame.hidden);
    if (groupFormOf(stage) === 'sequence-parallel' && hidden.dims[1] !== frame.attentionMask.shape[1])
      throw new StepRefusedError(
        STEP_REFUSED_CODES.badRows,
        `a sequence-parallel member needs every position of the stage input, got ${hidden.dims[1]} of ${frame.attentionMask.shape[1]}`,
      );
    this.stats.seqMemberRuns++;
    const run = this.newRun(frame, stage, loaded, fromWire(frame.attentionMask), hidden.dims, UNIT_STEP);
    try {
      let x: HostTensor | undefined = hidden;
      for (const layer of stageLayers(stage)) {
        x = await run.layer(layer, x);
        if (!x) break;
      }
    } catch (err) {
      // The host ended the request (an early exit, or a failure it already reports): nothing to tell anyone.
      if (err instanceof StepRefusedError && err.code === STEP_REFUSED_CODES.groupCancelled) return;
      throw err;
    } finally {
      this.mailbox.close(run.run, cancelled(run.run));
    }
  }

  deliver(frame: FrameOf<'seq-rows'>): void {
    const run = RowMailbox.run(frame.requestId, frame.stage);
    const t = fromWire(frame.rows);
    this.mailbox.deliver(run, RowMailbox.key(run, frame.layer, frame.phase), {
      rowStart: frame.rowStart,
      rows: t.dims[1]!,
      data: t.data as Float32Array,
    });
  }

  cancel(frame: FrameOf<'seq-cancel'>): void {
    const run = RowMailbox.run(frame.requestId, frame.stage);
    this.mailbox.close(run, cancelled(run));
  }

  /** A member reported an error for this request: the host stops waiting for its rows. */
  failRequest(requestId: string, err: Error): void {
    this.mailbox.failRequest(requestId, err);
    for (const h of this.hosting.values()) if (h.run.run.startsWith(`${requestId}/`)) h.run.fail(err);
  }

  failAll(err: Error): void {
    this.mailbox.failAll(err);
    for (const h of this.hosting.values()) h.run.fail(err);
  }
}
