import type { Plan__Output as Plan } from '@edgerelay/proto';
import { bestSingleDevicePlan, evenSplitPlan } from './baselines.js';
import type { ClusterModel } from './cluster-model.js';
import type { PlannerModel } from './cost-model.js';
import { ModelDoesNotFitError, type Objective, type PlannerOptions, type PlannerResult } from './planner-types.js';

/**
 * The planner never loses to its own baselines: the search's pick, the best single device and the even
 * splits are contenders judged by the same cost model (predictPlan), and the best one is the plan. A new
 * plan form (another group shape) joins as one more contender with its rank.
 */

/** How much machinery a plan needs; ties go to the simpler form. */
export type PlanForm = 'single' | 'pipeline' | 'group';
export const PLAN_FORM_RANK: Record<PlanForm, number> = { single: 0, pipeline: 1, group: 2 };

/**
 * A more complex plan must be predicted this much better (relative) to beat a simpler one: the cost model is
 * not more precise than that, and a simpler plan has fewer links and processes to go wrong.
 */
export const DEFAULT_SIMPLER_PLAN_MARGIN = 0.01;

export interface Contender {
  /** e.g. "search", "best single device", "even pipeline", "even tensor split" */
  name: string;
  form: PlanForm;
  result: PlannerResult;
}

export function planForm(plan: Plan): PlanForm {
  if (plan.stages.some((s) => s.members.some((m) => m.agentId !== s.host))) return 'group';
  return new Set(plan.stages.map((s) => s.host)).size > 1 ? 'pipeline' : 'single';
}

export function contender(name: string, result: PlannerResult): Contender {
  return { name, form: planForm(result.plan), result };
}

/**
 * The peers' plans (baselines.ts) that can run on this cluster: best single device, even pipeline, and
 * the even tensor split when it stays within the largest group the planner may build.
 */
export function baselineContenders(model: PlannerModel, cluster: ClusterModel, options: PlannerOptions): Contender[] {
  const out: Contender[] = [];
  try {
    out.push(contender('best single device', bestSingleDevicePlan(model, cluster, options)));
  } catch (err) {
    if (!(err instanceof ModelDoesNotFitError)) throw err;
  }
  out.push(contender('even pipeline', evenSplitPlan(model, cluster, { ...options, style: 'pipeline' })));
  const k = 2 ** Math.floor(Math.log2(cluster.devices.length));
  if (k <= (options.maxGroupSize ?? Infinity))
    out.push(contender('even tensor split', evenSplitPlan(model, cluster, { ...options, style: 'tensor-parallel' })));
  return out.filter((c) => c.result.predicted.fits);
}

/** The objective's figure, larger is better. */
function score(c: Contender, objective: Objective): number {
  return objective === 'latency' ? -c.result.predicted.latencyMs : c.result.predicted.throughputRps;
}

const fmt = (c: Contender, objective: Objective) =>
  objective === 'latency'
    ? `${c.result.predicted.latencyMs.toFixed(1)} ms`
    : `${c.result.predicted.throughputRps.toFixed(2)} req/s`;

/**
 * The simplest contender predicted within `margin` of the best one (latency, or throughput then latency);
 * among equally simple ones the better. Returns it and a line for the explanation.
 */
export function pickContender(
  contenders: Contender[],
  objective: Objective,
  margin = DEFAULT_SIMPLER_PLAN_MARGIN,
): { chosen: Contender; line: string } {
  if (contenders.length === 0) throw new RangeError('pickContender needs at least one contender');
  const best = contenders.reduce((a, b) =>
    score(b, objective) > score(a, objective) ||
    (score(b, objective) === score(a, objective) && b.result.predicted.latencyMs < a.result.predicted.latencyMs)
      ? b
      : a,
  );
  const bestScore = score(best, objective);
  // Within the margin of the best: -latency ≥ -best·(1+m), or throughput ≥ best·(1−m).
  const near = (c: Contender) => score(c, objective) >= bestScore - Math.abs(bestScore) * (margin + 1e-9);
  const chosen = contenders
    .filter(near)
    .sort(
      (a, b) =>
        PLAN_FORM_RANK[a.form] - PLAN_FORM_RANK[b.form] ||
        score(b, objective) - score(a, objective) ||
        a.result.predicted.latencyMs - b.result.predicted.latencyMs,
    )[0]!;
  const others = contenders.filter((c) => c !== chosen).map((c) => `${c.name} ${fmt(c, objective)}`);
  const why =
    chosen === best
      ? 'the best prediction'
      : `within ${(margin * 100).toFixed(0)}% of the ${best.name}'s ${fmt(best, objective)} and simpler (${chosen.form} < ${best.form})`;
  return {
    chosen,
    line:
      `Chose the ${chosen.name} (${chosen.form}, predicted ${fmt(chosen, objective)}): ${why}; ` +
      `judged by the same cost model against ${others.join(', ') || 'nothing else'}.`,
  };
}
