import type { Plan, Plan__Output } from '@edgerelay/proto';
import type { FloatWireDtype } from '@edgerelay/proto';

/** What a planner needs to know about the model. */
export interface PlanModelInfo {
  modelId: string;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  numLabels: number;
  exitLayers: number[];
}

export interface PlanSettings {
  exitThreshold: number;
  /** An exit-policy spec (device-agent/exits); takes precedence over exitThreshold when set. */
  exitPolicy?: string;
  wireDtype: FloatWireDtype;
  /** Parameter-shared models: ODE steps K every request runs unless it asks otherwise (default: every layer). */
  odeSteps?: number;
}

/** Fills every field, as a received message would have them: plans are handled as Plan__Output everywhere. */
export function completePlan(plan: Plan): Plan__Output {
  return {
    version: Number(plan.version ?? 0),
    modelId: plan.modelId ?? '',
    stages: (plan.stages ?? []).map((s) => ({
      layerStart: s.layerStart ?? 0,
      layerEnd: s.layerEnd ?? 0,
      host: s.host ?? '',
      members: (s.members ?? []).map((m) => ({
        agentId: m.agentId ?? '',
        heads: m.heads ?? [],
        ffnColumns: m.ffnColumns ?? [],
        ...(m.positionShare != null && { positionShare: Number(m.positionShare) }),
      })),
      ...(s.form && { form: s.form }),
      ...(s.positionTiles != null && s.positionTiles > 1 && { positionTiles: Number(s.positionTiles) }),
    })),
    endpoints: (plan.endpoints ?? []).map((e) => ({ agentId: e.agentId ?? '', dataAddress: e.dataAddress ?? '' })),
    exit: { maxProbThreshold: Number(plan.exit?.maxProbThreshold ?? 0), policy: plan.exit?.policy ?? '' },
    numLabels: plan.numLabels ?? 0,
    exitLayers: plan.exitLayers ?? [],
    wireDtype: plan.wireDtype ?? 'float32',
    numLayers: plan.numLayers ?? 0,
    hiddenSize: plan.hiddenSize ?? 0,
  };
}
