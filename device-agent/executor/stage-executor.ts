import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';
import { floatWireDtype, groupFormOf, IO, SEQ_OVERLAP_MIN_ROWS } from '@edgerelay/proto';
import type { FrameOf, Hop } from '@edgerelay/proto';
import type { Stage__Output as Stage } from '@edgerelay/proto';
import { isGroupStage, memberShare, stageExitLayers, stageLayers } from '../plan/roles.js';
import { fromWire, sumFloat32, toWire, type HostTensor } from '../runtime/index.js';
import type { LoadedPlan } from './loaded-plan.js';
import { PartialWaiter } from './partial-waiter.js';
import type { AgentStats } from './stats.js';
import { decideExit, parseExitPolicy, type ExitPolicy } from '../exits/policies.js';
import { sigmoid, softmax } from '../exits/math.js';
import { checkSharedLayer, stageOde, type StageOde } from './ode-stage.js';
import { activePruning, pruneForLayer } from '../pruning/request.js';
import { stageTokenTypes } from './token-types.js';
import { SEQ_CHUNK_ROWS, SeqParallel } from './seq-parallel.js';
import type { SeqFrame } from './seq-run.js';
import { PositionRun, positionLayerAlone } from './position-run.js';

export interface ExecutorPorts {
  /** Sends a frame to another agent by id (dialing it if needed). */
  sendToAgent(agentId: string, frame: FrameOf<'stage-input'> | FrameOf<'scatter'>): Promise<void>;
  /** Sends a sequence-parallel group's frame to a fellow member (agents always give it; unit tests may not). */
  sendSeqToAgent?(agentId: string, frame: SeqFrame): Promise<void>;
  /** Sends a result or error to the coordinator. */
  sendToCoordinator(frame: FrameOf<'result'> | FrameOf<'error'> | FrameOf<'interim'>): void;
}

export interface ExecutorOptions {
  agentId: string;
  /** How long a host waits for its group members' partial sums. */
  groupTimeoutMs: number;
  /** Sequence-parallel groups: rows per transfer at most (smaller: more overlap, more shard runs). */
  seqChunkRows?: number;
  /** Sequence-parallel groups: the FFN overlaps the all-gather only when every member's rows number this many. */
  seqOverlapMinRows?: number;
}

/** Logits whose softmax is `probs`: how an answer from an accumulated distribution (DACT) travels. */
function logitsOf(probs: number[]): number[] {
  return probs.map((p) => Math.log(Math.max(p, 1e-30)));
}

const parsedPolicies = new Map<string, ExitPolicy>();
/** Requests repeat a handful of policy strings: parse each once (bounded, in case clients vary them). */
function policyOf(spec: string): ExitPolicy {
  let policy = parsedPolicies.get(spec);
  if (!policy) {
    policy = parseExitPolicy(spec);
    if (parsedPolicies.size > 256) parsedPolicies.clear();
    parsedPolicies.set(spec, policy);
  }
  return policy;
}

/**
 * Runs this agent's part of a request: a whole stage when it is the stage's host (embeddings,
 * layers or group layers, exit heads, then forward or answer), or a share of a group layer.
 */
export class StageExecutor {
  readonly waiter = new PartialWaiter();
  /** Sequence-parallel groups: this agent's runs as host or member, and the rows its peers send it. */
  readonly seq: SeqParallel;
  /** Stage runs in progress, by plan version, request id and stage. */
  private readonly running = new Set<string>();

  constructor(
    private readonly options: ExecutorOptions,
    private readonly ports: ExecutorPorts,
    private readonly stats: AgentStats,
  ) {
    this.seq = new SeqParallel(
      {
        agentId: options.agentId,
        timeoutMs: options.groupTimeoutMs,
        chunkRows: options.seqChunkRows ?? SEQ_CHUNK_ROWS,
        overlapMinRows: options.seqOverlapMinRows ?? SEQ_OVERLAP_MIN_ROWS,
      },
      (id, frame) =>
        ports.sendSeqToAgent
          ? ports.sendSeqToAgent(id, frame)
          : Promise.reject(new Error('this executor has no port for sequence-parallel frames')),
      stats,
    );
  }

  async runStage(frame: FrameOf<'stage-input'>, loaded: LoadedPlan): Promise<void> {
    const plan = loaded.plan;
    const stage = plan.stages[frame.stage];
    if (!stage || stage.host !== this.options.agentId) {
      throw new StepRefusedError(
        STEP_REFUSED_CODES.stageNotHosted,
        `stage ${frame.stage} of plan ${plan.version} is not hosted by ${this.options.agentId}`,
      );
    }
    // A second run of the same stage of the same request is refused at once, whatever the timing:
    // both would gather their group partials under the same keys and strand or mix them.
    const run = `${plan.version}/${frame.requestId}/${frame.stage}`;
    if (this.running.has(run)) {
      throw new StepRefusedError(
        STEP_REFUSED_CODES.duplicateRequestId,
        `already running stage ${frame.stage} of ${frame.requestId}: duplicate request id`,
      );
    }
    this.running.add(run);
    try {
      await this.runOwnStage(frame, loaded);
    } finally {
      this.running.delete(run);
      this.seq.finish(frame.requestId, frame.stage);
    }
  }

  private async runOwnStage(frame: FrameOf<'stage-input'>, loaded: LoadedPlan): Promise<void> {
    const plan = loaded.plan;
    const stage = plan.stages[frame.stage]!;
    const started = performance.now();
    let mask = fromWire(frame.attentionMask);
    let maskWire = frame.attentionMask;
    let hidden: HostTensor;
    if (frame.stage === 0) {
      if (!frame.inputIds) throw new StepRefusedError(STEP_REFUSED_CODES.missingInput, 'stage 0 needs token ids');
      const ids = fromWire(frame.inputIds);
      const types = stageTokenTypes(frame, ids);
      hidden = (await loaded.session({ kind: 'embeddings' }).run({ [IO.inputIds]: ids, [IO.tokenTypeIds]: types }))[
        IO.hiddenOut
      ]!;
    } else {
      if (!frame.hidden)
        throw new StepRefusedError(STEP_REFUSED_CODES.missingInput, `stage ${frame.stage} needs a hidden state`);
      hidden = fromWire(frame.hidden);
    }
    // ODE steps (parameter-shared models): only the step slots run, at step size L/K, and only their exits answer.
    const ode = stageOde(plan, frame);
    const exits = new Set(stageExitLayers(plan, stage).filter(ode.runs));
    const policy = policyOf(frame.exitPolicy);
    let exitState = frame.exitState;
    const finalLayer = plan.numLayers - 1;
    let groupWaitMs = 0;
    let layersRun = 0;
    const hop = (): Hop => ({
      agent: this.options.agentId,
      stage: frame.stage,
      layersRun,
      computeMs: performance.now() - started,
      groupWaitMs,
      members: stage.members.map((m) => m.agentId).filter((id) => id !== this.options.agentId),
    });
    this.stats.stageRuns++;
    // Token pruning: the previous layer's scores choose the rows the next layer (or stage) gets.
    const pruning = activePruning(frame.tokenPruning);
    let scores: HostTensor | undefined;
    const prune = (nextLayer: number) => {
      const kept = pruning && scores && pruneForLayer(pruning, nextLayer, hidden, mask, scores);
      scores = undefined;
      if (kept) [hidden, mask, maskWire] = [kept.hidden, kept.mask, toWire(kept.mask)];
    };
    // A sequence-parallel group runs its own way, unless the request needs the host-gather form.
    const seqRun = isGroupStage(stage)
      ? this.seq.host(frame, stage, loaded, hidden, mask, { hostGatherOnly: !!pruning || ode.skips, feed: ode.feed })
      : undefined;
    for (const layer of stageLayers(stage)) {
      if (!ode.runs(layer)) continue;
      prune(layer);
      if (seqRun) {
        const waited = seqRun.waitMs;
        hidden = (await seqRun.layer(layer, hidden))!;
        groupWaitMs += seqRun.waitMs - waited;
      } else if (isGroupStage(stage) && groupFormOf(stage) === 'position-parallel') {
        // The request needs every position on the host between layers: it runs the stage alone.
        const t = await positionLayerAlone(loaded, layer, hidden, mask);
        [hidden, scores] = [t.hidden, t.scores];
      } else if (isGroupStage(stage)) {
        const t = await this.groupLayer(frame, stage, layer, hidden, mask, maskWire, loaded, ode, !!pruning);
        hidden = t.hidden;
        scores = t.scores;
        groupWaitMs += t.waitMs;
      } else {
        const session = loaded.session({ kind: 'layers', start: layer, end: layer + 1, attentionReceived: true });
        if (ode.skips) checkSharedLayer(session.inputNames, ode.steps);
        const out = await session.run({ ...ode.feed, [IO.attentionMask]: mask, [IO.hidden]: hidden });
        hidden = out[IO.hiddenOut]!;
        // A shared (ALBERT) layer's shard names its scores without the slot, so every slot's shard is the same.
        scores = out[IO.attentionReceivedAt(layer)] ?? out[IO.attentionReceived];
      }
      layersRun++;
      this.stats.layersRun++;
      if (!exits.has(layer)) continue;
      // A position-parallel host starts the next layer's exchange first: its exit head then runs while the
      // members' keys and values travel, not while they wait for the host's.
      if (seqRun instanceof PositionRun && layer + 1 < stage.layerEnd) await seqRun.startLayer(layer + 1, hidden);
      const head = await loaded.session({ kind: 'head', layer }).run({ [IO.hidden]: hidden });
      const logits = head[IO.logits]!.data as Float32Array;
      // A checkpoint with DACT halting units compiles the exit's unit into its head shard: h is computed
      // here, where the pooled vector is, and only the policy state travels on.
      const unit = head[IO.haltingLogit];
      const isFinal = layer === finalLayer;
      const decision = decideExit(policy, exitState, softmax(logits), {
        layer,
        exitLayers: ode.exitLayers,
        ...(unit && { halting: sigmoid(unit.data[0] as number) }),
      });
      exitState = decision.state;
      if (isFinal || decision.exit) {
        if (!isFinal) this.stats.earlyExits++;
        this.ports.sendToCoordinator({
          type: 'result',
          requestId: frame.requestId,
          planVersion: frame.planVersion,
          exitLayer: layer,
          early: !isFinal,
          // The policy's answer: the head's own distribution, or an accumulated one (DACT).
          logits: policy.kind === 'dact' ? logitsOf(decision.probs) : Array.from(logits),
          trace: [...frame.trace, hop()],
          ...(decision.halting && { halting: decision.halting }),
        });
        return;
      }
      this.ports.sendToCoordinator({
        type: 'interim',
        requestId: frame.requestId,
        planVersion: frame.planVersion,
        exitLayer: layer,
        logits: Array.from(logits),
      });
    }
    const next = plan.stages[frame.stage + 1];
    if (!next)
      throw new StepRefusedError(
        STEP_REFUSED_CODES.noFinalClassifier,
        `plan ${plan.version} ends at stage ${frame.stage} without a final classifier`,
      );
    prune(stage.layerEnd);
    await this.ports.sendToAgent(next.host, {
      type: 'stage-input',
      requestId: frame.requestId,
      planVersion: frame.planVersion,
      stage: frame.stage + 1,
      hidden: toWire(hidden, floatWireDtype(plan.wireDtype)),
      attentionMask: maskWire,
      exitPolicy: frame.exitPolicy,
      exitState,
      trace: [...frame.trace, hop()],
      ...(frame.odeSteps !== undefined && { odeSteps: frame.odeSteps }),
      ...(frame.tokenPruning && { tokenPruning: frame.tokenPruning }),
    });
  }

  /**
   * One layer split over a group: scatter first so members compute while the host computes its own
   * share, then sum the partials and apply residual + LayerNorm; the same again for the FFN.
   */
  private async groupLayer(
    frame: FrameOf<'stage-input'>,
    stage: Stage,
    layer: number,
    hidden: HostTensor,
    mask: HostTensor,
    maskWire: FrameOf<'scatter'>['attentionMask'],
    loaded: LoadedPlan,
    ode: StageOde,
    withScores: boolean,
  ): Promise<{ hidden: HostTensor; scores?: HostTensor; waitMs: number }> {
    let waitMs = 0;
    const scoreParts: HostTensor[] = [];
    const own = memberShare(stage, this.options.agentId);
    const others = stage.members.filter((m) => m.agentId !== this.options.agentId);
    const wireDtype = floatWireDtype(loaded.plan.wireDtype);
    const part = async (name: 'attention' | 'ffn', input: HostTensor): Promise<HostTensor> => {
      const key = PartialWaiter.key(frame.requestId, layer, name);
      const owners = others.filter((m) => (name === 'attention' ? m.heads.length : m.ffnColumns.length) > 0);
      const gathered = this.waiter.expect(key, owners.length, this.options.groupTimeoutMs);
      gathered.catch(() => undefined); // observed below; avoids an unhandled rejection while we compute
      const scoring = withScores && name === 'attention';
      const scoreKey = PartialWaiter.key(frame.requestId, layer, 'scores');
      const gatheredScores = scoring
        ? this.waiter.expect(scoreKey, owners.length, this.options.groupTimeoutMs)
        : undefined;
      gatheredScores?.catch(() => undefined);
      const wireInput = toWire(input, wireDtype);
      for (const m of owners) {
        this.ports
          .sendToAgent(m.agentId, {
            type: 'scatter',
            requestId: frame.requestId,
            planVersion: frame.planVersion,
            layer,
            part: name,
            hidden: wireInput,
            attentionMask: maskWire,
            ...(scoring && { scores: true }),
          })
          .catch((err: Error) => {
            this.waiter.fail(key, err);
            if (scoring) this.waiter.fail(scoreKey, err);
          });
      }
      const partials: HostTensor[] = [];
      const holdsShare = own && (name === 'attention' ? own.heads.length : own.ffnColumns.length) > 0;
      if (holdsShare) {
        const mine = await this.runShare(name, layer, own.heads, own.ffnColumns, input, mask, loaded);
        partials.push(mine.partial);
        if (scoring && mine.scores) scoreParts.push(mine.scores);
      }
      const t = performance.now();
      partials.push(...(await gathered));
      if (gatheredScores) scoreParts.push(...(await gatheredScores));
      waitMs += performance.now() - t;
      const combine = name === 'attention' ? 'attention-combine' : 'ffn-combine';
      // The step size scales the summed branch (Σ partials + bias) in the combine; partials stay unscaled.
      const session = loaded.session({ kind: combine, layer });
      if (ode.skips) checkSharedLayer(session.inputNames, ode.steps);
      const out = await session.run({ ...ode.feed, [IO.hidden]: input, [IO.partialSum]: sumFloat32(partials) });
      return out[IO.hiddenOut]!;
    };
    const attended = await part('attention', hidden);
    const out = await part('ffn', attended);
    return { hidden: out, waitMs, ...(withScores && scoreParts.length > 0 && { scores: sumFloat32(scoreParts) }) };
  }

  private async runShare(
    part: 'attention' | 'ffn',
    layer: number,
    heads: number[],
    columns: number[],
    input: HostTensor,
    mask: HostTensor,
    loaded: LoadedPlan,
  ): Promise<{ partial: HostTensor; scores?: HostTensor }> {
    const spec =
      part === 'attention'
        ? { kind: 'attention-partial' as const, layer, heads, attentionReceived: true }
        : { kind: 'ffn-partial' as const, layer, columns };
    const out = await loaded.session(spec).run({ [IO.hidden]: input, [IO.attentionMask]: mask });
    this.stats.partialRuns++;
    return { partial: out[IO.partial]!, scores: out[IO.attentionReceived] };
  }

  /** A group member's side: compute this agent's share of one part of one layer. */
  async runScatter(frame: FrameOf<'scatter'>, loaded: LoadedPlan): Promise<FrameOf<'partial'>> {
    const stage = loaded.plan.stages.find((s) => frame.layer >= s.layerStart && frame.layer < s.layerEnd);
    const share = stage && memberShare(stage, this.options.agentId);
    if (!share)
      throw new StepRefusedError(
        STEP_REFUSED_CODES.noShare,
        `this agent holds no share of layer ${frame.layer} in plan ${loaded.version}`,
      );
    const started = performance.now();
    const { partial, scores } = await this.runShare(
      frame.part,
      frame.layer,
      share.heads,
      share.ffnColumns,
      fromWire(frame.hidden),
      fromWire(frame.attentionMask),
      loaded,
    );
    return {
      type: 'partial',
      requestId: frame.requestId,
      planVersion: frame.planVersion,
      layer: frame.layer,
      part: frame.part,
      partial: toWire(partial, floatWireDtype(loaded.plan.wireDtype)),
      computeMs: performance.now() - started,
      // Scores travel as float32 whatever the wire dtype: they pick tokens, and the host's choice must
      // equal the single-node one.
      ...(frame.scores && scores && { scores: toWire(scores) }),
    };
  }
}
