import type { Plan__Output as Plan } from '@edgerelay/proto';
import { EdgeRelayError, GROUP_FORMS, groupFormOf, MAX_POSITION_TILES, type GroupForm } from '@edgerelay/proto';
import type { PlanModelInfo } from './plan-model.js';

export class InvalidPlanError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_INVALID_PLAN';
}

/** Checks that a plan can run: stages tile the layers, and every group splits heads and columns exactly. */
export function validatePlan(plan: Plan, model: PlanModelInfo, knownAgents: Set<string>): void {
  const fail = (why: string): never => {
    throw new InvalidPlanError(`Plan ${plan.version} cannot run: ${why}.`);
  };
  if (plan.stages.length === 0) fail('it has no stages');
  let next = 0;
  plan.stages.forEach((stage, i) => {
    if (stage.layerStart !== next)
      fail(`stage ${i} starts at layer ${stage.layerStart}, expected ${next} (stages must tile the layers in order)`);
    if (stage.layerEnd <= stage.layerStart) fail(`stage ${i} holds no layers`);
    next = stage.layerEnd;
    if (!knownAgents.has(stage.host)) fail(`stage ${i} host "${stage.host}" is not a connected agent`);
    if (stage.form && !GROUP_FORMS.includes(stage.form as GroupForm))
      fail(`stage ${i} has group form "${stage.form}"; use ${GROUP_FORMS.join(' or ')}`);
    if (stage.members.length === 0) return;
    // Sequence- and position-parallel members exchange rows with the host among them: it holds rows like any member.
    if (groupFormOf(stage) !== 'host-gather' && !stage.members.some((m) => m.agentId === stage.host))
      fail(`stage ${i} is ${stage.form}, so its host "${stage.host}" must be one of its members`);
    for (const m of stage.members)
      if (!knownAgents.has(m.agentId)) fail(`stage ${i} member "${m.agentId}" is not a connected agent`);
    if (new Set(stage.members.map((m) => m.agentId)).size !== stage.members.length)
      fail(`stage ${i} lists a member twice`);
    checkPositionSplit(stage, i, fail);
    // Position-parallel: every member holds whole layers, so each lists every head and column.
    if (stage.form === 'position-parallel') {
      for (const m of stage.members) {
        exactCover(m.heads, model.numHeads, () =>
          fail(`stage ${i} is position-parallel, so member "${m.agentId}" must hold heads 0..${model.numHeads - 1}`),
        );
        exactCover(m.ffnColumns, model.intermediateSize, () =>
          fail(`stage ${i} is position-parallel, so member "${m.agentId}" must hold every FFN column`),
        );
      }
      return;
    }
    const heads = stage.members.flatMap((m) => m.heads);
    const columns = stage.members.flatMap((m) => m.ffnColumns);
    exactCover(heads, model.numHeads, () =>
      fail(`stage ${i}'s members must split heads 0..${model.numHeads - 1} exactly once`),
    );
    exactCover(columns, model.intermediateSize, () =>
      fail(`stage ${i}'s members must split FFN columns 0..${model.intermediateSize - 1} exactly once`),
    );
  });
  if (next !== model.numLayers) fail(`the stages end at layer ${next}, but the model has ${model.numLayers}`);
  if (!model.exitLayers.includes(model.numLayers - 1)) fail('the model has no final classifier');
}

/**
 * Position shares size a position-parallel stage's slices: all members have one, or none (an even split). Tiles
 * cut a member's slice further, so they too belong to position-parallel stages only.
 */
function checkPositionSplit(stage: Plan['stages'][number], i: number, fail: (why: string) => never): void {
  const tiles = stage.positionTiles;
  if (tiles != null && tiles !== 1) {
    if (stage.form !== 'position-parallel')
      fail(`stage ${i} has ${tiles} position tiles, but only a position-parallel stage cuts positions into tiles`);
    if (!(Number.isInteger(tiles) && tiles >= 1 && tiles <= MAX_POSITION_TILES))
      fail(`stage ${i} has ${tiles} position tiles; give a whole number from 1 to ${MAX_POSITION_TILES}`);
  }
  const shared = stage.members.filter((m) => m.positionShare !== undefined);
  if (shared.length === 0) return;
  if (stage.form !== 'position-parallel')
    fail(`stage ${i} gives members position shares, but only a position-parallel stage splits positions`);
  for (const m of stage.members)
    if (!(Number.isFinite(m.positionShare) && m.positionShare! > 0))
      fail(
        `stage ${i} member "${m.agentId}" has position share ${m.positionShare ?? '(none)'}; give every member a positive share, or none for an even split`,
      );
}

function exactCover(indices: number[], size: number, fail: () => void): void {
  if (indices.length !== size) return fail();
  const seen = new Uint8Array(size);
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= size || seen[i]) return fail();
    seen[i] = 1;
  }
}
