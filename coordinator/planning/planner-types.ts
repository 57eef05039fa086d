import type { FloatWireDtype, GroupForm, Plan__Output as Plan } from '@edgerelay/proto';
import { EdgeRelayError } from '@edgerelay/proto';
import { DEFAULT_COST_PARAMS, type CostParams, type PlannerModel } from './cost-model.js';

export type Objective = 'latency' | 'throughput';

/** How a plan is costed: shared by the planner, the baselines and predictPlan. */
export interface CostOptions {
  seqLen: number;
  wireDtype: FloatWireDtype;
  /** Fraction of requests answered at each exit layer (model.exitLayers order), from calibration. */
  exitRates?: number[];
  /** Cost-model knobs (per-op overhead, memory reserve, ...); defaults in DEFAULT_COST_PARAMS. */
  cost?: Partial<Omit<CostParams, 'seqLen' | 'wireDtype'>>;
  /** Token pruning's keep ratios, one per layer: layer l runs on tokensAt(keep, l, seqLen) tokens (token-scale.ts). */
  tokenKeep?: number[];
}

export interface PlannerOptions extends CostOptions {
  objective: Objective;
  version: number;
  exitThreshold: number;
  /** Largest head group considered (default 4). */
  maxGroupSize?: number;
  /** The group forms the search may use (default both; host-gather alone for agents that predate the other). */
  groupForms?: readonly GroupForm[];
  /** Clusters above this many devices are planned over the fastest ones, or greedily (default 8). */
  maxExactDevices?: number;
  /**
   * A more complex plan (single < pipeline < group) must be predicted this much better, relative, to be
   * chosen over a simpler contender (default 0.01: contenders.ts).
   */
  simplerPlanMargin?: number;
}

export interface StagePrediction {
  /** Encoder layers [start, end), 0-based as in plans. */
  layers: [number, number];
  host: string;
  /** Empty for a stage that runs whole layers; counts of heads and FFN columns otherwise. */
  /** positions: a position-parallel member's positions of the planned sequence length. */
  members: { agent: string; heads: number; columns: number; positions?: number }[];
  /** A group's form: host-gather (the host gathers every partial) or sequence-parallel (docs/sequence-parallel.md). */
  form?: GroupForm;
  /** Compute of a request that runs the whole stage: layers, embeddings, exit heads. */
  computeMs: number;
  /** Its network time: the hidden state arriving from the previous stage, plus scatter/gather inside a group. */
  transferMs: number;
  /** Chance that a request reaches the stage, from the exit rates. */
  reachProbability: number;
}

export interface DevicePrediction {
  agent: string;
  /** Weights, sessions and activations of its shards. */
  memoryBytes: number;
  /** Its memory less the reserve for the OS and the agent. */
  usableBytes: number;
  fits: boolean;
  /** Expected compute per request, for throughput. */
  busyMs: number;
}

export interface Prediction {
  /** Expected latency of a request, weighting every layer by the chance a request reaches it. */
  latencyMs: number;
  /** Latency of a request that runs every layer. */
  fullPathMs: number;
  /** Requests per second the pipeline sustains: 1 / its busiest resource's expected time per request. */
  throughputRps: number;
  /** The resource that limits throughput. */
  bottleneck: string;
  stages: StagePrediction[];
  devices: DevicePrediction[];
  /** Whether every device's shards fit its usable memory. */
  fits: boolean;
}

export interface PlannerResult {
  plan: Plan;
  predicted: Prediction;
  explanation: string[];
}

export class PlannerError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_PLANNER';
}
/** No assignment of the model to the cluster fits the devices' memory. */
export class ModelDoesNotFitError extends PlannerError {
  override readonly code: string = 'EDGERELAY_MODEL_DOES_NOT_FIT';
}
export class ExitRatesError extends PlannerError {
  override readonly code: string = 'EDGERELAY_EXIT_RATES';
}

export function costParams(options: CostOptions): CostParams {
  if (!Number.isInteger(options.seqLen) || options.seqLen <= 0) {
    throw new PlannerError(`The sequence length must be a positive integer, got ${options.seqLen}.`);
  }
  return { ...DEFAULT_COST_PARAMS, ...options.cost, seqLen: options.seqLen, wireDtype: options.wireDtype };
}

/**
 * Chance that a request reaches each layer. exitRates is either one rate per exit layer
 * (model.exitLayers order; missing trailing entries count as 0) or, as `edgerelay calibrate` writes
 * it, one rate per layer (0 where a layer has no exit); the two agree when every layer has an exit.
 * The final exit answers everyone who gets there, whatever its rate says.
 */
export function reachProbabilities(model: PlannerModel, exitRates?: number[]): number[] {
  const reach = new Array<number>(model.numLayers).fill(1);
  if (!exitRates || exitRates.length === 0) return reach;
  const bad = exitRates.find((r) => !(r >= 0 && r <= 1));
  if (bad !== undefined) throw new ExitRatesError(`Exit rate ${bad} is not a fraction between 0 and 1.`);
  const final = model.numLayers - 1;
  const exitList = `(${model.exitLayers.map((l) => l + 1).join(', ')})`;
  let rates: { layer: number; r: number }[];
  if (exitRates.length === model.numLayers) {
    rates = exitRates.map((r, layer) => ({ layer, r }));
    const stray = rates.find((e) => e.r > 0 && !model.exitLayers.includes(e.layer));
    if (stray) {
      throw new ExitRatesError(
        `The exit rates answer ${stray.r} of requests after layer ${stray.layer + 1}, which has no exit head; the model's exits are after layers ${exitList}.`,
      );
    }
  } else if (exitRates.length <= model.exitLayers.length) {
    rates = exitRates.map((r, k) => ({ layer: model.exitLayers[k]!, r }));
  } else {
    throw new ExitRatesError(
      `${exitRates.length} exit rates were given, but the model has ${model.exitLayers.length} exit layer(s) ${exitList} ` +
        `and ${model.numLayers} layers; give one rate per exit layer (or per layer), from \`edgerelay calibrate\`.`,
    );
  }
  const early = rates.filter((e) => e.layer !== final);
  const total = early.reduce((s, e) => s + e.r, 0);
  if (total > 1 + 1e-6) {
    throw new ExitRatesError(
      `The early exit rates add up to ${total.toFixed(3)}, more than every request; they must sum to at most 1.`,
    );
  }
  for (let l = 0; l < model.numLayers; l++) {
    reach[l] = Math.max(0, 1 - early.filter((e) => e.layer < l).reduce((s, e) => s + e.r, 0));
  }
  return reach;
}
