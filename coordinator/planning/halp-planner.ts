import type { ClusterModel } from './cluster-model.js';
import { buildCandidates, fitsRange, singleCandidate } from './candidates.js';
import { baselineContenders, contender, pickContender } from './contenders.js';
import {
  embeddingsWeightBytes,
  exitHeadWeightBytes,
  usableMemoryBytes,
  wholeLayerWeightBytes,
  type PlannerModel,
} from './cost-model.js';
import { explainPlan } from './explain.js';
import { buildPlan } from './plan-builder.js';
import { searchPlan, type ChosenStage } from './plan-search.js';
import {
  costParams,
  ModelDoesNotFitError,
  PlannerError,
  reachProbabilities,
  type Objective,
  type PlannerOptions,
  type PlannerResult,
} from './planner-types.js';
import { predictPlan } from './predict.js';
import { costContext, type CostContext } from './stage-cost.js';
import { validatePlan } from './validate.js';

import { layerComputeScale, layerTokenScale } from './token-scale.js';

const DEFAULT_MAX_GROUP = 4;
const DEFAULT_MAX_EXACT = 8;

/**
 * The HALP-style planner: pipeline stages over layer ranges, each on one device or a head group
 * with speed-proportional shares, chosen by an exact search over the cluster's devices (the
 * fastest `maxExactDevices` of a larger cluster) for expected latency or throughput. The search's
 * pick then competes with the baselines (contenders.ts), so the plan is never predicted worse than them.
 */
export function planCluster(model: PlannerModel, cluster: ClusterModel, options: PlannerOptions): PlannerResult {
  const ctx = costContext(model, cluster, costParams(options));
  const usable = cluster.devices.map((d) => usableMemoryBytes(d, ctx.params));
  const searched = searchedPlan(model, cluster, options, ctx, usable);
  // The search's pick is one contender; the peers' plans are others, judged by the same cost model.
  const contenders = [
    ...(searched ? [contender('search', searched)] : []),
    ...baselineContenders(model, cluster, options),
  ];
  if (contenders.length === 0) throw new ModelDoesNotFitError(doesNotFitMessage(ctx, usable));
  const { chosen, line } = pickContender(contenders, options.objective, options.simplerPlanMargin);
  return { ...chosen.result, explanation: [...chosen.result.explanation, line] };
}

/** The search's own pick, before it meets the baselines (benchmarks and tests compare the two). */
export function searchOnlyPlan(model: PlannerModel, cluster: ClusterModel, options: PlannerOptions): PlannerResult {
  const ctx = costContext(model, cluster, costParams(options));
  const usable = cluster.devices.map((d) => usableMemoryBytes(d, ctx.params));
  const searched = searchedPlan(model, cluster, options, ctx, usable);
  if (!searched) throw new ModelDoesNotFitError(doesNotFitMessage(ctx, usable));
  return searched;
}

/** The exact search's plan (or the greedy one of a cluster too large to search); undefined when none fits. */
function searchedPlan(
  model: PlannerModel,
  cluster: ClusterModel,
  options: PlannerOptions,
  ctx: CostContext,
  usable: number[],
): PlannerResult | undefined {
  const reach = reachProbabilities(model, options.exitRates);
  const maxExact = Math.max(1, Math.min(options.maxExactDevices ?? DEFAULT_MAX_EXACT, 16));
  const maxGroup = Math.max(1, options.maxGroupSize ?? DEFAULT_MAX_GROUP);
  const notes: string[] = [];
  const bySpeed = cluster.devices
    .map((_, i) => i)
    .sort((a, b) => cluster.devices[b]!.gflops - cluster.devices[a]!.gflops || a - b);
  const pool = cluster.devices.length > maxExact ? bySpeed.slice(0, maxExact) : cluster.devices.map((_, i) => i);
  if (pool.length < cluster.devices.length) {
    notes.push(
      `${cluster.devices.length} devices: the exact search covers at most ${maxExact}, so it planned over the ${maxExact} fastest.`,
    );
  }
  const candidates = buildCandidates(ctx, pool, maxGroup, options.groupForms);
  let stages = searchPlan({
    ctx,
    pool,
    candidates,
    reach,
    objective: options.objective,
    usable,
    ...(options.tokenKeep && {
      computeScale: layerComputeScale(model, options),
      tokenScale: layerTokenScale(model, options),
    }),
  });
  if (!stages && pool.length < cluster.devices.length) {
    stages = greedyStages(ctx, bySpeed, usable, options.objective);
    if (stages)
      notes.push(
        `The ${maxExact} fastest devices cannot hold the model, so every device was used in a greedy pipeline (no head groups).`,
      );
  }
  if (!stages) return undefined;

  const plan = buildPlan(
    model,
    cluster,
    stages.map((s) => ({
      start: s.start,
      end: s.end,
      host: s.candidate.host,
      shares: s.candidate.shares,
      ...(s.candidate.form && { form: s.candidate.form }),
    })),
    options,
  );
  validatePlan(plan, model, new Set(cluster.devices.map((d) => d.id)));
  const predicted = predictPlan(plan, cluster, model, options);
  if (!predicted.fits) {
    const over = predicted.devices.filter((d) => !d.fits).map((d) => d.agent);
    throw new PlannerError(
      `Internal planner error: the plan overfills ${over.join(', ')}; please report this with the cluster file.`,
    );
  }
  const explanation = explainPlan({ ctx, options, stages, predicted, candidates, pool, usable, reach, notes });
  return { plan, predicted, explanation };
}

/**
 * For clusters too large to search: a pipeline over devices fastest first; for latency each device
 * takes all the layers it can hold, for throughput a share in proportion to its speed.
 */
function greedyStages(
  ctx: CostContext,
  bySpeed: number[],
  usable: number[],
  objective: Objective,
): ChosenStage[] | undefined {
  const L = ctx.model.numLayers;
  const exitsIn = (a: number, b: number) => ctx.model.exitLayers.filter((l) => l >= a && l < b).length;
  let remainingSpeed = bySpeed.reduce((s, d) => s + ctx.cluster.devices[d]!.gflops, 0);
  const stages: ChosenStage[] = [];
  let start = 0;
  for (const d of bySpeed) {
    if (start >= L) break;
    const speed = ctx.cluster.devices[d]!.gflops;
    const c = singleCandidate(ctx, d, 0);
    let cap = start;
    while (cap < L && fitsRange(ctx, c, start, cap + 1, exitsIn(start, cap + 1), usable)) cap++;
    const share = Math.max(1, Math.ceil(((L - start) * speed) / remainingSpeed));
    remainingSpeed -= speed;
    if (cap === start) continue;
    const end = objective === 'throughput' ? Math.min(cap, start + share) : cap;
    stages.push({ start, end, candidate: c });
    start = end;
  }
  return start === L ? stages : undefined;
}

function doesNotFitMessage(ctx: CostContext, usable: number[]): string {
  const { model, dm } = ctx;
  const mb = (b: number) => `${Math.round(b / 2 ** 20)} MB`;
  const weights =
    embeddingsWeightBytes(model) +
    model.numLayers * wholeLayerWeightBytes(dm) +
    model.exitLayers.length * exitHeadWeightBytes(dm, model.numLabels);
  const total = usable.reduce((s, u) => s + u, 0);
  const devices = ctx.cluster.devices.map((d, i) => `${d.id} ${mb(usable[i]!)} of ${mb(d.memoryBytes)}`).join(', ');
  return (
    `${model.modelId || 'The model'} does not fit the cluster: its float32 weights alone take ${mb(weights)} ` +
    `(embeddings ${mb(embeddingsWeightBytes(model))} on the first stage's host), and the devices can hold ${mb(total)} in all ` +
    `after reserving memory for the OS and the agent (${devices}). Add devices or memory, or plan a smaller model.`
  );
}
