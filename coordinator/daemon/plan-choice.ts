import type pino from 'pino';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import type { AgentRecord } from '../cluster/registry.js';
import {
  clusterFromAgents,
  completePlan,
  planCluster,
  planFileAgents,
  planFromFile,
  repairPlan,
  speedProportionalPlan,
  type Link,
  type PlanFile,
  type PlannerModel,
  type PlanSettings,
} from '../planning/index.js';

/** Everything the coordinator knows when membership changed and a new plan may be due. */
export interface PlanChoiceInputs {
  agents: AgentRecord[];
  active: Plan | undefined;
  /** Agents that left since the active plan was made, and whether any joined. */
  departed: ReadonlySet<string>;
  joinedSincePlan: boolean;
  planFile: PlanFile | undefined;
  minAgents: number;
  nextVersion: number;
  settings: PlanSettings;
  model: PlannerModel;
  exitRates: number[] | undefined;
  /** The deployment's token-pruning keep ratios, when it prunes by default: the planner costs stages with them. */
  tokenKeep?: number[];
  /** The link between two agents: measured, from a cluster file, or assumed. */
  link: (a: string, b: string) => Link;
  objective: 'latency' | 'throughput';
  seqLen: number;
  logger: pino.Logger;
  /** Told when the plan chosen is a repair of the active one around failed agents. */
  onRepair?: () => void;
}

/**
 * The next plan, or undefined when none is due or possible: failures alone are repaired around;
 * otherwise the plan file when all its agents are here, else the HALP planner.
 */
export function choosePlan(x: PlanChoiceInputs): Plan | undefined {
  const { agents, active, logger } = x;
  if (active && !x.joinedSincePlan && x.departed.size > 0) {
    // Only failures: move the failed agents' work to survivors and leave everything else in place.
    const connected = new Set(agents.map((a) => a.id));
    const failed = new Set(active.endpoints.map((e) => e.agentId).filter((id) => !connected.has(id)));
    const repaired = failed.size > 0 ? repairPlan(active, failed, x.nextVersion) : undefined;
    if (repaired) {
      logger.warn({ failed: [...failed] }, 'repairing the plan around failed agents');
      x.onRepair?.();
      return repaired;
    }
    if (failed.size === 0) return undefined; // the agents that left held no part of the plan
  }
  const addresses = new Map(agents.map((a) => [a.id, a.dataAddress]));
  if (x.planFile) {
    const missing = planFileAgents(x.planFile).filter((id) => !addresses.has(id));
    if (missing.length === 0) return planFromFile(x.planFile, x.model, x.settings, x.nextVersion, addresses);
    // Before the first plan, wait for the agents the file names; once serving, keep serving
    // with whoever is left rather than refuse every request until the missing agents return.
    if (!active || agents.length === 0) {
      logger.info({ missing }, 'waiting for the agents the plan file names');
      return undefined;
    }
    logger.warn({ missing }, 'agents of the plan file are missing; planning with the agents left');
  } else if (agents.length < Math.max(1, x.minAgents) && !active) {
    logger.info({ connected: agents.length, needed: x.minAgents }, 'waiting for agents');
    return undefined;
  }
  if (agents.length === 0) {
    logger.error('no agents left: requests get 503 until one joins');
    return undefined;
  }
  return plannerPlan(x);
}

/**
 * The HALP-style planner over the connected agents (measured speed and memory, the given links);
 * the speed-proportional pipeline if the planner cannot place the model.
 */
function plannerPlan(x: PlanChoiceInputs): Plan {
  const figures = x.agents.map((a) => ({
    id: a.id,
    dataAddress: a.dataAddress,
    gflops: Number(a.capabilities.gflops),
    int8Gflops: Number(a.capabilities.int8Gflops ?? 0),
    memoryBytes: Number(a.capabilities.memoryTotalBytes),
  }));
  const exit = { maxProbThreshold: x.settings.exitThreshold, policy: x.settings.exitPolicy ?? '' };
  try {
    const result = planCluster(x.model, clusterFromAgents(figures, x.link), {
      objective: x.objective,
      seqLen: x.seqLen,
      wireDtype: x.settings.wireDtype,
      exitRates: x.exitRates,
      ...(x.tokenKeep && { tokenKeep: x.tokenKeep }),
      version: x.nextVersion,
      exitThreshold: x.settings.exitThreshold,
    });
    x.logger.info({ explanation: result.explanation, predictedMs: Math.round(result.predicted.latencyMs) }, 'planned');
    return completePlan({ ...result.plan, exit });
  } catch (err) {
    x.logger.warn(
      { err: (err as Error).message },
      'the planner could not place the model; using a speed-proportional pipeline',
    );
    return speedProportionalPlan(figures, x.model, x.settings, x.nextVersion);
  }
}
