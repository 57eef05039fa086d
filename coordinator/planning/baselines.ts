import type { ClusterModel } from './cluster-model.js';
import { fitsRange, singleCandidate } from './candidates.js';
import { usableMemoryBytes, type PlannerModel } from './cost-model.js';
import { buildPlan, type PlanIdentity, type StageDraft } from './plan-builder.js';
import { costParams, ModelDoesNotFitError, type CostOptions, type PlannerResult } from './planner-types.js';
import { predictPlan } from './predict.js';
import { apportionEvenly, evenShares } from './shares.js';
import { costContext } from './stage-cost.js';
import { validatePlan } from './validate.js';

/**
 * The plans users would get from the peers, for the benchmark: they ignore speeds and links.
 * Costed with the same model as the planner (predictPlan), so the figures compare like for like.
 */

export type BaselineOptions = CostOptions & PlanIdentity;

/**
 * `pipeline`: equal layer ranges per device, in the cluster's order (layer splitting that ignores
 * speed, as exo does with memory alone). `tensor-parallel`: distributed-llama's shape: one stage
 * over the largest power-of-two number of devices, equal heads and FFN columns each.
 * The result says in `predicted.fits` whether the devices can hold their equal shares.
 */
export function evenSplitPlan(
  model: PlannerModel,
  cluster: ClusterModel,
  options: BaselineOptions & { style?: 'pipeline' | 'tensor-parallel' },
): PlannerResult {
  const n = cluster.devices.length;
  const explanation: string[] = [];
  let drafts: StageDraft[];
  if (options.style === 'tensor-parallel') {
    const k = 2 ** Math.floor(Math.log2(n));
    const devices = Array.from({ length: k }, (_, i) => i);
    drafts = [
      {
        start: 0,
        end: model.numLayers,
        host: 0,
        shares: k > 1 ? evenShares(devices, model.numHeads, model.intermediateSize) : [],
      },
    ];
    explanation.push(
      `even tensor-parallel split: ${k} of ${n} device(s) (a power of two), equal heads and FFN columns on every layer.`,
    );
    if (model.numHeads % k !== 0)
      explanation.push(`${model.numHeads} heads do not divide by ${k}; distributed-llama would refuse this model.`);
  } else {
    const k = Math.min(n, model.numLayers);
    const counts = apportionEvenly(model.numLayers, k);
    let start = 0;
    drafts = counts.map((c, i) => {
      const d = { start, end: start + c, host: i, shares: [] };
      start += c;
      return d;
    });
    explanation.push(
      `even pipeline split: ${counts.join('/')} layers on ${k} device(s) in cluster order, whatever their speed.`,
    );
  }
  return finish(model, cluster, drafts, options, explanation);
}

/** The whole model on the one device that serves it fastest, among those that can hold it. */
export function bestSingleDevicePlan(
  model: PlannerModel,
  cluster: ClusterModel,
  options: BaselineOptions,
): PlannerResult {
  const ctx = costContext(model, cluster, costParams(options));
  const usable = cluster.devices.map((d) => usableMemoryBytes(d, ctx.params));
  const fitting = cluster.devices
    .map((_, i) => i)
    .filter((d) => fitsRange(ctx, singleCandidate(ctx, d, 0), 0, model.numLayers, model.exitLayers.length, usable));
  if (fitting.length === 0) {
    throw new ModelDoesNotFitError(
      `No single device can hold ${model.modelId || 'the model'} (${model.numLayers} layers); the largest has ` +
        `${Math.round(Math.max(...usable) / 2 ** 20)} MB usable. Split it over several devices with planCluster.`,
    );
  }
  const results = fitting.map((d) =>
    finish(model, cluster, [{ start: 0, end: model.numLayers, host: d, shares: [] }], options, [
      `best single device: ${cluster.devices[d]!.id} runs every layer.`,
    ]),
  );
  return results.reduce((a, b) => (b.predicted.latencyMs < a.predicted.latencyMs ? b : a));
}

function finish(
  model: PlannerModel,
  cluster: ClusterModel,
  drafts: StageDraft[],
  options: BaselineOptions,
  explanation: string[],
): PlannerResult {
  const plan = buildPlan(model, cluster, drafts, options);
  validatePlan(plan, model, new Set(cluster.devices.map((d) => d.id)));
  const predicted = predictPlan(plan, cluster, model, options);
  if (!predicted.fits) {
    explanation.push(
      `it cannot run: ${predicted.devices
        .filter((d) => !d.fits)
        .map((d) => d.agent)
        .join(', ')} cannot hold their share.`,
    );
  }
  return { plan, predicted, explanation };
}
