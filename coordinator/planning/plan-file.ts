import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import { EdgeRelayError, FLOAT_WIRE_DTYPES, GROUP_FORMS, MAX_POSITION_TILES } from '@edgerelay/proto';
import { completePlan, type PlanModelInfo, type PlanSettings } from './plan-model.js';

export class PlanFileError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_PLAN_FILE';
}

const indexList = z.array(z.number().int().nonnegative());
/** FFN columns as a list of [start, end) ranges, e.g. [[0, 1536]]: lists of 3072 numbers are unreadable. */
const columnRanges = z.array(z.tuple([z.number().int().nonnegative(), z.number().int().positive()]));

/**
 * A hand-written plan (`--plan FILE`), naming agents by their --name:
 * {"stages":[{"layers":[0,3],"host":"a"},{"layers":[3,6],"host":"b","members":[{"agent":"b","heads":[0,1],"ffnColumns":[[0,512]]},...]}]}
 */
export const planFileSchema = z.object({
  stages: z
    .array(
      z.object({
        layers: z.tuple([z.number().int().nonnegative(), z.number().int().positive()]),
        host: z.string().min(1),
        members: z
          .array(
            z.object({
              agent: z.string().min(1),
              heads: indexList,
              ffnColumns: columnRanges,
              /** position-parallel: this member's share of the positions, relative to the others' (default: even) */
              positionShare: z.number().positive().finite().optional(),
            }),
          )
          .optional(),
        /** a group's form: host-gather (default), sequence-parallel or position-parallel (docs/sequence-parallel.md) */
        form: z.enum(GROUP_FORMS).optional(),
        /**
         * position-parallel: tiles each member cuts its positions into, each tile's next-layer keys and values
         * leaving while the next computes (docs/sequence-parallel.md, "Tiles"); default 1
         */
        positionTiles: z.number().int().min(1).max(MAX_POSITION_TILES).optional(),
      }),
    )
    .min(1),
  exitThreshold: z.number().min(0).max(1).optional(),
  /** e.g. "patience=2" or "dact": overrides exitThreshold */
  exitPolicy: z.string().min(1).max(64).optional(),
  wireDtype: z.enum(FLOAT_WIRE_DTYPES).optional(),
});
export type PlanFile = z.infer<typeof planFileSchema>;

export function readPlanFile(file: string): PlanFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PlanFileError(`Cannot read plan file ${file}: ${(err as Error).message}`);
  }
  const parsed = planFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PlanFileError(`Plan file ${file} is malformed at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

export function planFileAgents(file: PlanFile): string[] {
  return [...new Set(file.stages.flatMap((s) => [s.host, ...(s.members ?? []).map((m) => m.agent)]))];
}

/** Turns a plan file into a plan for the agents now connected (their addresses from the registry). */
export function planFromFile(
  file: PlanFile,
  model: PlanModelInfo,
  settings: PlanSettings,
  version: number,
  addresses: Map<string, string>,
): Plan {
  const agents = planFileAgents(file);
  return completePlan({
    version,
    modelId: model.modelId,
    stages: file.stages.map((s) => ({
      layerStart: s.layers[0],
      layerEnd: s.layers[1],
      host: s.host,
      members: (s.members ?? []).map((m) => ({
        agentId: m.agent,
        heads: m.heads,
        ffnColumns: m.ffnColumns.flatMap(([a, b]) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i)),
        ...(m.positionShare !== undefined && { positionShare: m.positionShare }),
      })),
      ...(s.form && { form: s.form }),
      ...(s.positionTiles !== undefined && { positionTiles: s.positionTiles }),
    })),
    endpoints: agents.filter((a) => addresses.has(a)).map((a) => ({ agentId: a, dataAddress: addresses.get(a)! })),
    exit: {
      maxProbThreshold: file.exitThreshold ?? settings.exitThreshold,
      policy: file.exitPolicy ?? settings.exitPolicy ?? '',
    },
    numLabels: model.numLabels,
    exitLayers: model.exitLayers,
    wireDtype: file.wireDtype ?? settings.wireDtype,
    numLayers: model.numLayers,
  });
}
