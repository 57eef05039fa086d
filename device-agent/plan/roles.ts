import { groupFormOf, type ShardSpec } from '@edgerelay/proto';
import type {
  Plan__Output as Plan,
  Stage__Output as Stage,
  GroupMember__Output as GroupMember,
} from '@edgerelay/proto';

/**
 * What a plan asks of one agent. Coordinator (to compile and deploy) and agent (to find its
 * sessions) derive it with this same function, so they always agree on the shard list.
 */

export function isGroupStage(stage: Stage): boolean {
  return stage.members.length > 0;
}

export function stageLayers(stage: Stage): number[] {
  return Array.from({ length: stage.layerEnd - stage.layerStart }, (_, i) => stage.layerStart + i);
}

export function stageExitLayers(plan: Plan, stage: Stage): number[] {
  return plan.exitLayers.filter((l) => l >= stage.layerStart && l < stage.layerEnd);
}

export function memberShare(stage: Stage, agentId: string): GroupMember | undefined {
  return stage.members.find((m) => m.agentId === agentId);
}

/** Shards the host of `stage` runs. */
export function hostShards(plan: Plan, index: number): ShardSpec[] {
  const stage = plan.stages[index]!;
  const specs: ShardSpec[] = index === 0 ? [{ kind: 'embeddings' }] : [];
  for (const layer of stageLayers(stage)) {
    // A position-parallel host is a member: its member shards serve every request (memberShards).
    if (isGroupStage(stage) && groupFormOf(stage) === 'position-parallel') continue;
    if (isGroupStage(stage)) {
      specs.push({ kind: 'attention-combine', layer }, { kind: 'ffn-combine', layer });
    } else {
      // Every layer shard also outputs the context contribution token pruning ranks by (same hidden bits).
      specs.push({ kind: 'layers', start: layer, end: layer + 1, attentionReceived: true });
    }
  }
  for (const layer of stageExitLayers(plan, stage)) specs.push({ kind: 'head', layer });
  return specs;
}

/** Shards a group member (the host included, when it holds a share) runs for its share of `stage`. */
export function memberShards(stage: Stage, member: GroupMember): ShardSpec[] {
  const specs: ShardSpec[] = [];
  for (const layer of stageLayers(stage)) {
    // Position-parallel: whole layers, cut where attention mixes positions (docs/sequence-parallel.md).
    if (groupFormOf(stage) === 'position-parallel') {
      specs.push({ kind: 'keys-values', layer }, { kind: 'position-layer', layer });
      continue;
    }
    if (member.heads.length > 0)
      specs.push({ kind: 'attention-partial', layer, heads: [...member.heads], attentionReceived: true });
    if (member.ffnColumns.length > 0) specs.push({ kind: 'ffn-partial', layer, columns: [...member.ffnColumns] });
    // Sequence-parallel: every member combines (residual + bias + LayerNorm) its own rows.
    if (groupFormOf(stage) === 'sequence-parallel')
      specs.push({ kind: 'attention-combine', layer }, { kind: 'ffn-combine', layer });
  }
  return specs;
}

/** Every shard `agentId` needs for `plan`, without duplicates. */
export function shardsForAgent(plan: Plan, agentId: string): ShardSpec[] {
  const specs: ShardSpec[] = [];
  plan.stages.forEach((stage, index) => {
    if (stage.host === agentId) specs.push(...hostShards(plan, index));
    const share = memberShare(stage, agentId);
    if (share) specs.push(...memberShards(stage, share));
  });
  const seen = new Set<string>();
  return specs.filter((s) => {
    const key = shardKey(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A canonical string for a spec: the agent's session lookup key. */
export function shardKey(spec: ShardSpec): string {
  switch (spec.kind) {
    case 'embeddings':
      return 'embeddings';
    case 'layers':
      return `layers:${spec.start}-${spec.end}:${spec.exitLogits ? 1 : 0}:${spec.attentionReceived ? 1 : 0}`;
    case 'attention-partial':
      return `attention-partial:${spec.layer}:${spec.heads.join(',')}:${spec.attentionReceived ? 1 : 0}`;
    case 'ffn-partial':
      return `ffn-partial:${spec.layer}:${spec.columns.join(',')}`;
    case 'attention-combine':
    case 'ffn-combine':
    case 'keys-values':
    case 'position-layer':
    case 'head':
      return `${spec.kind}:${spec.layer}`;
    case 'monolithic':
      return `monolithic:${spec.exitLogits ? 1 : 0}`;
  }
}

/** Agents that hold any part of the plan. */
export function planAgents(plan: Plan): string[] {
  const ids = new Set<string>();
  for (const stage of plan.stages) {
    ids.add(stage.host);
    for (const m of stage.members) ids.add(m.agentId);
  }
  return [...ids];
}
