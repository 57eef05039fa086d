import type { FloatWireDtype, GroupForm, Plan__Output as Plan } from '@edgerelay/proto';
import type { ClusterModel } from './cluster-model.js';
import type { PlannerModel } from './cost-model.js';
import { completePlan } from './plan-model.js';
import type { MemberShare } from './shares.js';

/** A stage in cluster device indices, before it becomes a plan stage with agent ids. */
export interface StageDraft {
  start: number;
  end: number;
  host: number;
  /** Empty: the host runs whole layers. */
  shares: MemberShare[];
  /** A group's form; host-gather when absent. */
  form?: GroupForm;
}

export interface PlanIdentity {
  version: number;
  exitThreshold: number;
  wireDtype: FloatWireDtype;
}

export function buildPlan(
  model: PlannerModel,
  cluster: ClusterModel,
  drafts: StageDraft[],
  identity: PlanIdentity,
): Plan {
  const id = (d: number) => cluster.devices[d]!.id;
  const used = [...new Set(drafts.flatMap((s) => [s.host, ...s.shares.map((m) => m.device)]))];
  return completePlan({
    version: identity.version,
    modelId: model.modelId,
    stages: drafts.map((s) => ({
      layerStart: s.start,
      layerEnd: s.end,
      host: id(s.host),
      members: s.shares.map((m) => ({
        agentId: id(m.device),
        heads: m.heads,
        ffnColumns: m.columns,
        ...(m.positionShare !== undefined && { positionShare: m.positionShare }),
      })),
      ...(s.shares.length > 0 && s.form && s.form !== 'host-gather' && { form: s.form }),
    })),
    endpoints: used.map((d) => ({ agentId: id(d), dataAddress: cluster.devices[d]!.dataAddress ?? '' })),
    exit: { maxProbThreshold: identity.exitThreshold },
    numLabels: model.numLabels,
    exitLayers: model.exitLayers,
    wireDtype: identity.wireDtype,
    numLayers: model.numLayers,
  });
}
