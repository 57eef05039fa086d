import type {
  Plan__Output as Plan,
  Stage__Output as Stage,
  GroupMember__Output as GroupMember,
} from '@edgerelay/proto';
import { completePlan } from './plan-model.js';

/**
 * The smallest change to a plan that drops failed agents: a failed host's layers go to a neighbouring
 * stage, a failed group member's heads and columns to the group's other members. Survivors keep the
 * shards (and sessions) they already run, so service comes back after loading only what moved.
 * Returns undefined when no agent of the plan survives.
 */
export function repairPlan(plan: Plan, failed: ReadonlySet<string>, version: number): Plan | undefined {
  const stages: Stage[] = [];
  for (const stage of plan.stages) {
    // Position-parallel members hold whole layers: survivors only take more positions.
    const members =
      stage.form === 'position-parallel'
        ? stage.members.filter((m) => !failed.has(m.agentId))
        : dropMembers(stage.members, failed);
    if (!failed.has(stage.host)) {
      stages.push({ ...stage, members });
      continue;
    }
    // A failed host: a surviving member of its group takes over, else the previous stage absorbs the layers.
    const heir = members[0]?.agentId;
    if (heir) stages.push({ ...stage, host: heir, members: members.length > 1 ? members : [] });
    else if (stages.length > 0) stages[stages.length - 1]!.layerEnd = stage.layerEnd;
    else stages.push({ ...stage, host: '', members: [] }); // filled from the next stage below
  }
  // A leading orphan (stage 0's host failed with no heir) is merged into the next real stage.
  while (stages.length > 1 && stages[0]!.host === '') {
    const orphan = stages.shift()!;
    stages[0]!.layerStart = orphan.layerStart;
  }
  if (stages.length === 0 || stages[0]!.host === '') return undefined;
  return completePlan({
    ...plan,
    version,
    stages,
    endpoints: plan.endpoints.filter((e) => !failed.has(e.agentId)),
  });
}

/** Removes failed members; their heads and columns go to the first survivor that already has a share. */
function dropMembers(members: GroupMember[], failed: ReadonlySet<string>): GroupMember[] {
  if (members.length === 0) return [];
  const survivors = members
    .filter((m) => !failed.has(m.agentId))
    .map((m) => ({ ...m, heads: [...m.heads], ffnColumns: [...m.ffnColumns] }));
  if (survivors.length === 0) return [];
  for (const lost of members.filter((m) => failed.has(m.agentId))) {
    // Spread the lost share round-robin so one survivor does not take it all.
    lost.heads.forEach((h, i) => survivors[i % survivors.length]!.heads.push(h));
    const chunk = Math.ceil(lost.ffnColumns.length / survivors.length);
    survivors.forEach((s, i) => s.ffnColumns.push(...lost.ffnColumns.slice(i * chunk, (i + 1) * chunk)));
  }
  for (const s of survivors) {
    s.heads.sort((a, b) => a - b);
    s.ffnColumns.sort((a, b) => a - b);
  }
  return survivors;
}
