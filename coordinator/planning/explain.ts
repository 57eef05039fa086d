import type { GroupForm } from '@edgerelay/proto';
import { fitsRange, type Candidate } from './candidates.js';
import { stageInputBytes } from './cost-model.js';
import type { Link } from './devices.js';
import type { ChosenStage } from './plan-search.js';
import type { PlannerOptions, Prediction } from './planner-types.js';
import { wholeLayerTiming, type CostContext } from './stage-cost.js';

export interface ExplainInput {
  ctx: CostContext;
  options: PlannerOptions;
  stages: ChosenStage[];
  predicted: Prediction;
  candidates: Candidate[];
  pool: number[];
  usable: number[];
  reach: number[];
  notes: string[];
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const pct = (p: number) => `${Math.round(p * 100)}%`;

export function describeLink(l: Link): string {
  if (!Number.isFinite(l.bandwidthBytesPerSec)) return 'local';
  return `${Math.round((l.bandwidthBytesPerSec * 8) / 1e6)} Mbit/s, ${l.latencyMs} ms`;
}

function stageName(s: ChosenStage, i: number): string {
  return `stage ${i + 1} (layers ${s.start + 1}–${s.end})`;
}

/** Why the plan looks the way it does, one sentence per decision. */
export function explainPlan(input: ExplainInput): string[] {
  const { ctx, options, stages, predicted } = input;
  const name = (d: number) => ctx.cluster.devices[d]!.id;
  const lines: string[] = [];
  const used = new Set(stages.flatMap((s) => s.candidate.devices));
  lines.push(
    `objective ${options.objective}: expected latency ${ms(predicted.latencyMs)} (${ms(predicted.fullPathMs)} when every layer runs), ` +
      `${predicted.throughputRps.toFixed(2)} requests/s (limited by ${predicted.bottleneck}); ` +
      `${stages.length} stage(s) on ${used.size} of ${ctx.cluster.devices.length} device(s).`,
  );
  stages.forEach((s, i) => lines.push(explainStage(input, s, i, name)));
  lines.push(...explainExits(input, name));
  for (const d of ctx.cluster.devices.keys()) if (!used.has(d)) lines.push(explainUnused(input, d, name));
  const kb = stageInputBytes(ctx.dm, ctx.params) / 1024;
  lines.push(
    `each hop carries a ${ctx.dm.S}×${ctx.dm.H} ${options.wireDtype} hidden state (${kb.toFixed(0)} KiB with the mask).`,
  );
  lines.push(...input.notes);
  return lines;
}

function explainStage(input: ExplainInput, s: ChosenStage, i: number, name: (d: number) => string): string {
  const { ctx, candidates, stages } = input;
  const c = s.candidate;
  const alone = c.devices.map((d) => ({ d, t: wholeLayerTiming(ctx, d).totalMs })).sort((a, b) => a.t - b.t)[0]!;
  if (c.shares.length > 0) {
    const shares = c.shares.map((m) => `${name(m.device)} ${m.heads.length}h/${m.columns.length}c`).join(', ');
    const slowest = c.devices
      .filter((d) => d !== c.host)
      .map((d) => ctx.cluster.links[c.host]![d]!)
      .sort((a, b) => a.bandwidthBytesPerSec - b.bandwidthBytesPerSec)[0]!;
    return (
      `${stageName(s, i)} splits heads and FFN columns over ${shares} (host ${name(c.host)}): the ${describeLink(slowest)} link makes the split pay ` +
      `(${ms(c.timing.totalMs)} per layer vs ${ms(alone.t)} pipelined on ${name(alone.d)} alone); ${explainForm(input, c)}.`
    );
  }
  const head = `${stageName(s, i)} runs whole layers on ${name(c.host)} (${ctx.cluster.devices[c.host]!.gflops} GFLOP/s, ${ms(c.timing.totalMs)} per layer)`;
  const groups = candidates.filter((g) => g.shares.length > 0 && g.devices.includes(c.host));
  const best = groups.sort((a, b) => a.timing.totalMs - b.timing.totalMs)[0];
  if (!best) return `${head}.`;
  const others = best.devices.filter((d) => d !== c.host);
  const link = ctx.cluster.links[best.host]![best.host === c.host ? others[0]! : c.host]!;
  const partner = others.map(name).join('+');
  if (best.timing.totalMs >= c.timing.totalMs) {
    return `${head}: pure pipeline, since over the ${describeLink(link)} link the best split (with ${partner}) would take ${ms(best.timing.totalMs)} per layer.`;
  }
  const busyElsewhere = others.find((d) => stages.some((o) => o !== s && o.candidate.devices.includes(d)));
  const why =
    busyElsewhere !== undefined
      ? `${name(busyElsewhere)} serves another stage`
      : `it does not lower the ${input.options.objective} objective overall`;
  return `${head}: a split with ${partner} would be faster per layer (${ms(best.timing.totalMs)}) but ${why}.`;
}

function explainExits(input: ExplainInput, name: (d: number) => string): string[] {
  const { options, stages, predicted, ctx } = input;
  if (!options.exitRates || options.exitRates.length === 0) {
    return ['no exit rates known: every stage is counted as reached by every request.'];
  }
  const reach = predicted.stages.map((p, i) => `stage ${i + 1} ${pct(p.reachProbability)}`).join(', ');
  const first = stages[0]!.candidate;
  const used = [...new Set(stages.flatMap((s) => s.candidate.devices))];
  const fastest = used.reduce((a, b) => (ctx.cluster.devices[b]!.gflops > ctx.cluster.devices[a]!.gflops ? b : a));
  const who = first.devices.includes(fastest)
    ? `the fastest device used (${name(fastest)}) is on stage 1, which every request runs`
    : `stage 1 runs on ${first.devices.map(name).join('+')}`;
  return [`exit rates from calibration: requests reach ${reach}; ${who}.`];
}

function explainUnused(input: ExplainInput, d: number, name: (d: number) => string): string {
  const { ctx, pool, candidates, usable, options } = input;
  const dev = ctx.cluster.devices[d]!;
  if (!pool.includes(d)) return `${dev.id} is left out of the search (it covers the ${pool.length} fastest devices).`;
  const bit = 1 << pool.indexOf(d);
  const start = ctx.model.numLayers > 1 ? 1 : 0;
  const holdsAnything = candidates.some((c) => c.mask & bit && fitsRange(ctx, c, start, start + 1, 0, usable));
  if (!holdsAnything) {
    return `${name(d)} is unused: its ${Math.round(usable[d]! / 2 ** 20)} MB of usable memory cannot hold a share of a layer.`;
  }
  return `${name(d)} is unused (${dev.gflops} GFLOP/s): no plan that uses it predicts a better ${options.objective}.`;
}

const FORM_HOW: Record<GroupForm, string> = {
  'host-gather': 'host-gather: the host gathers every partial',
  'sequence-parallel': 'sequence-parallel: members reduce-scatter and all-gather rows among themselves',
  'position-parallel': 'position-parallel: members run whole layers on their positions and exchange keys and values',
};

const SIZED = ', positions sized to each device’s speed';
const sizedPositions = (c: Candidate) => c.shares.some((s) => s.positionShare !== undefined);
/** A group form as the explanation names it: position-parallel groups come with even or speed-sized positions. */
const formLabel = (c: Candidate) => (c.form ?? 'host-gather') + (sizedPositions(c) ? SIZED : '');

/** Why the group runs the way it does: the other forms of the same group, costed the same way. */
function explainForm(input: ExplainInput, c: Candidate): string {
  const others = input.candidates.filter((o) => o.mask === c.mask && formLabel(o) !== formLabel(c));
  const how = FORM_HOW[c.form ?? 'host-gather'] + (sizedPositions(c) ? SIZED : '');
  if (others.length === 0) return how;
  const costs = others.map(
    (o) =>
      `${formLabel(o)} would take ${ms(o.timing.totalMs)} per layer${o.entryMs ? ` + ${ms(o.entryMs)} per stage` : ''}`,
  );
  return `${how} (${costs.join('; ')})`;
}
