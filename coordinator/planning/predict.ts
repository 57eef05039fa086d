import { groupFormOf, positionOrder, positionRows, type Plan__Output as Plan } from '@edgerelay/proto';
import { deviceIndex, type ClusterModel } from './cluster-model.js';
import { messageMs, stageInputBytes, transferMs, usableMemoryBytes, wireMs, type PlannerModel } from './cost-model.js';
import {
  costParams,
  reachProbabilities,
  type CostOptions,
  type DevicePrediction,
  type Prediction,
  type StagePrediction,
} from './planner-types.js';
import {
  addUsage,
  costContext,
  embeddingsMs,
  exitHeadCostMs,
  exitHeadMs,
  groupStageMs,
  hostExtrasUsage,
  NO_USAGE,
  usageBytes,
  type Usage,
} from './stage-cost.js';
import { appliedSlots, weightSetSlots } from './shared-layers.js';
import { layerCosts, type LayerCost } from './pruned-layers.js';
import type { MemberShare } from './shares.js';
import { layerTokens } from './token-scale.js';

/**
 * Costs any plan on a cluster with the planner's own model: expected and full-path latency,
 * throughput, per-stage compute and transfer, and whether every device's shards fit.
 */
export function predictPlan(plan: Plan, cluster: ClusterModel, model: PlannerModel, options: CostOptions): Prediction {
  const ctx = costContext(model, cluster, costParams(options));
  // Token pruning: each layer is costed at the tokens it runs on, each hop at the rows it carries.
  const tokens = layerTokens(model.numLayers, options);
  const ctxAt = (layer: number) =>
    tokens[layer] === options.seqLen ? ctx : costContext(model, cluster, { ...ctx.params, seqLen: tokens[layer]! });
  const reach = reachProbabilities(model, options.exitRates);
  const exits = new Set(model.exitLayers);
  const applied = appliedSlots(model);
  const usage = new Map<number, Usage>();
  const busy = new Map<number, number>();
  const addBusy = (d: number, ms: number) => busy.set(d, (busy.get(d) ?? 0) + ms);
  const resources: { name: string; ms: number }[] = [];
  const stages: StagePrediction[] = [];
  let latencyMs = ctx.params.requestOverheadMs;
  let fullPathMs = ctx.params.requestOverheadMs;
  let prevHost = -1;

  plan.stages.forEach((stage, i) => {
    const host = deviceIndex(cluster, stage.host);
    const members: MemberShare[] = stage.members.map((m) => ({
      device: deviceIndex(cluster, m.agentId),
      heads: m.heads,
      columns: m.ffnColumns,
      ...(m.positionShare !== undefined && { positionShare: m.positionShare }),
    }));
    // Per layer: a layer with pruned heads costs less (pruned-layers.ts), under ODE steps only step slots
    // compute, and under token pruning each layer is costed at the tokens it runs on.
    const form = members.length > 0 ? groupFormOf(stage) : undefined;
    const perLayer = layerCosts(ctx, host, members, form);
    const atTokens = new Map<number, LayerCost[]>([[ctx.params.seqLen, perLayer]]);
    const costOf = (l: number): LayerCost => {
      const c = ctxAt(l);
      let all = atTokens.get(c.params.seqLen);
      if (!all) atTokens.set(c.params.seqLen, (all = layerCosts(c, host, members, form)));
      return all[l]!;
    };
    const stageSlots = Array.from({ length: stage.layerEnd - stage.layerStart }, (_, i) => stage.layerStart + i);
    const stageExits = model.exitLayers.filter((l) => l >= stage.layerStart && l < stage.layerEnd);
    const hopBytes = stageInputBytes(ctxAt(stage.layerStart).dm, ctx.params);
    const link = cluster.links[prevHost < 0 ? host : prevHost]![host]!;
    const entry = form ? groupStageMs(ctxAt(stage.layerStart), form, host, members) : 0;
    const hopValues = ctxAt(stage.layerStart).dm.S * ctx.dm.H;
    const hop = i === 0 || prevHost === host ? 0 : transferMs(hopBytes, link) + messageMs(hopValues, ctx.params);
    const incoming = hop + entry;
    const embMs = i === 0 ? embeddingsMs(ctx, host) : 0;
    const headMs = exitHeadMs(ctx, host);
    const p = reach[stage.layerStart] ?? 0;

    let expected = embMs;
    let headsMs = 0;
    for (let l = stage.layerStart; l < stage.layerEnd; l++) {
      const r = (reach[l] ?? 0) * applied[l]!;
      const timing = costOf(l).timing;
      // The host of a position-parallel stage runs a head while the next layer's keys and values travel.
      const next = form === 'position-parallel' && l + 1 < stage.layerEnd ? costOf(l + 1).timing : undefined;
      const head = exits.has(l) ? exitHeadCostMs(headMs, next) : 0;
      headsMs += head;
      expected += r * (timing.totalMs + head);
      for (const [d, ms] of timing.busyMs) addBusy(d, r * ms);
      if (exits.has(l)) addBusy(host, r * headMs);
    }
    addBusy(host, embMs);
    latencyMs += p * incoming + expected;
    const sum = (f: (c: LayerCost) => number) => stageSlots.reduce((t, l) => t + applied[l]! * f(costOf(l)), 0);
    const layersMs = sum((c) => c.timing.totalMs);
    const layersComputeMs = sum((c) => c.timing.computeMs);
    fullPathMs += incoming + layersMs + embMs + headsMs;
    resources.push({ name: `stage ${i + 1} (${stage.host})`, ms: expected });
    if (hop > 0)
      resources.push({ name: `link ${plan.stages[i - 1]!.host} → ${stage.host}`, ms: p * wireMs(hopBytes, link) });

    // A shared layer group's weights are held once however many of its slots the stage covers.
    for (const l of weightSetSlots(model, stage.layerStart, stage.layerEnd))
      for (const [d, u] of perLayer[l]!.usage) usage.set(d, addUsage(usage.get(d) ?? NO_USAGE, u));
    usage.set(host, addUsage(usage.get(host) ?? NO_USAGE, hostExtrasUsage(ctx, i === 0, stageExits.length)));

    const order = form === 'position-parallel' ? positionOrder(stage) : [];
    const positionsOf = new Map(
      positionRows(
        ctx.dm.S,
        order.map((m) => m.positionShare),
      ).map(([a, b], k) => [order[k]!.agentId, b - a]),
    );
    stages.push({
      layers: [stage.layerStart, stage.layerEnd],
      host: stage.host,
      members: stage.members.map((m) => ({
        agent: m.agentId,
        heads: m.heads.length,
        columns: m.ffnColumns.length,
        ...(form === 'position-parallel' && { positions: positionsOf.get(m.agentId) ?? 0 }),
      })),
      ...(form && { form }),
      computeMs: layersComputeMs + embMs + stageExits.length * headMs,
      transferMs: incoming + (layersMs - layersComputeMs),
      reachProbability: p,
    });
    prevHost = host;
  });

  const devices: DevicePrediction[] = [...usage].map(([d, u]) => {
    const memoryBytes = usageBytes(u, ctx.params);
    const usableBytes = usableMemoryBytes(cluster.devices[d]!, ctx.params);
    return {
      agent: cluster.devices[d]!.id,
      memoryBytes,
      usableBytes,
      fits: memoryBytes <= usableBytes,
      busyMs: busy.get(d) ?? 0,
    };
  });
  // A device in several stages is one resource: its compute across them adds up.
  for (const d of devices) resources.push({ name: `device ${d.agent}`, ms: d.busyMs });
  const worst = resources.reduce((a, b) => (b.ms > a.ms ? b : a), { name: 'none', ms: 0 });
  return {
    latencyMs,
    fullPathMs,
    throughputRps: worst.ms > 0 ? 1000 / worst.ms : Infinity,
    bottleneck: worst.name,
    stages,
    devices,
    fits: devices.every((d) => d.fits),
  };
}
