import type { Plan__Output as Plan } from '@edgerelay/proto';
import { completePlan, type PlanModelInfo, type PlanSettings } from './plan-model.js';

export interface PlannableAgent {
  id: string;
  dataAddress: string;
  gflops: number;
}

/**
 * A simple pipeline plan: the fastest agents first (every request passes the early stages),
 * layers split in proportion to measured speed, at least one layer per stage.
 */
export function speedProportionalPlan(
  agents: PlannableAgent[],
  model: PlanModelInfo,
  settings: PlanSettings,
  version: number,
): Plan {
  const chosen = [...agents].sort((a, b) => b.gflops - a.gflops || a.id.localeCompare(b.id)).slice(0, model.numLayers);
  const total = chosen.reduce((s, a) => s + Math.max(a.gflops, 1e-3), 0);
  // Largest-remainder apportionment with a floor of one layer each.
  const spare = model.numLayers - chosen.length;
  const ideal = chosen.map((a) => (spare * Math.max(a.gflops, 1e-3)) / total);
  const counts = ideal.map((x) => 1 + Math.floor(x));
  let left = model.numLayers - counts.reduce((s, c) => s + c, 0);
  const byRemainder = ideal.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r);
  for (const { i } of byRemainder) {
    if (left-- <= 0) break;
    counts[i]!++;
  }
  let start = 0;
  const stages = chosen.map((a, i) => {
    const stage = { layerStart: start, layerEnd: start + counts[i]!, host: a.id, members: [] };
    start += counts[i]!;
    return stage;
  });
  return completePlan({
    version,
    modelId: model.modelId,
    stages,
    endpoints: chosen.map((a) => ({ agentId: a.id, dataAddress: a.dataAddress })),
    exit: { maxProbThreshold: settings.exitThreshold, policy: settings.exitPolicy ?? '' },
    numLabels: model.numLabels,
    exitLayers: model.exitLayers,
    wireDtype: settings.wireDtype,
    numLayers: model.numLayers,
  });
}
