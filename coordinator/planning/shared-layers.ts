/**
 * Parameter sharing and ODE steps in the planner. A parameter-shared model (ALBERT) holds one weight set per
 * layer group: a device running several slots of a group loads its shard once (the agent keeps one session per
 * distinct shard), so memory counts distinct weight sets, not slots. With K ODE steps only K slots compute.
 */
import { odeSchedule } from '@edgerelay/proto';
import type { PlannerModel } from './cost-model.js';
import type { BertConfig } from '../checkpoint/types.js';
import { albertGroupOf } from '../checkpoint/albert-config.js';

/** The PlannerModel fields of a parameter-shared model (none for BERT); `odeSteps` is the deployment's. */
export function sharedLayerShape(
  config: BertConfig,
  odeSteps?: number,
): Pick<PlannerModel, 'layerGroups' | 'embeddingSize' | 'odeSteps'> {
  const albert = config.albert;
  // ELECTRA's factorised embeddings (embedding_size < hidden_size, projected up) are not shared, only smaller.
  if (!albert) return config.embeddingSize ? { embeddingSize: config.embeddingSize } : {};
  const L = config.numLayers;
  return {
    embeddingSize: albert.embeddingSize,
    layerGroups: Array.from({ length: L }, (_, l) => albertGroupOf(l, L, albert.numHiddenGroups)),
    ...(odeSteps !== undefined && { odeSteps }),
  };
}

/** Per slot, 1 when it computes under the model's ODE steps (every slot for the ordinary model), else 0. */
export function appliedSlots(model: PlannerModel): number[] {
  const runs = new Set(odeSchedule(model.numLayers, model.odeSteps).stepSlots);
  return Array.from({ length: model.numLayers }, (_, l) => (runs.has(l) ? 1 : 0));
}

/** The slots of [start, end) whose weights a device holds: the first slot of each shared group, every slot otherwise. */
export function weightSetSlots(model: PlannerModel, start: number, end: number): number[] {
  const seen = new Set<number>();
  const slots: number[] = [];
  for (let l = start; l < end; l++) {
    const set = model.layerGroups?.[l] ?? l;
    if (seen.has(set)) continue;
    seen.add(set);
    slots.push(l);
  }
  return slots;
}
