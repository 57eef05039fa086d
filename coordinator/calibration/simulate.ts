import { argmaxOf, decideExit, initialExitState, type ExitPolicy } from '@edgerelay/device-agent';
import type { ExitRun, ExitRuns } from './collect.js';

/**
 * Where `policy` answers `row`: the first exit it takes (k indexes exitLayers) and the class it answers
 * with, fed the heads' probabilities in order through the same decideExit the devices call.
 */
export function policyExit(
  policy: ExitPolicy,
  row: ExitRun,
  exitLayers: number[],
): { k: number; layer: number; pred: number } | undefined {
  let state = initialExitState(policy);
  for (let k = 0; k < exitLayers.length; k++) {
    const layer = exitLayers[k]!;
    const d = decideExit(policy, state, row.probs[k]!, {
      layer,
      exitLayers,
      ...(row.halting && k < row.halting.length && { halting: row.halting[k]! }),
    });
    state = d.state;
    if (d.exit) return { k, layer, pred: argmaxOf(d.probs) };
  }
  return undefined;
}

export interface PolicyOutcome {
  examples: number;
  /** Mean number of encoder layers run per example (exit after 0-based layer l counts l + 1). */
  meanLayers: number;
  /** numLayers / meanLayers: the reduction in encoder compute. */
  speedup: number;
  /** Share of labelled examples answered correctly; undefined without labels. */
  accuracy?: number;
  /**
   * Share of labelled examples the final exit gets right and the policy gets wrong (undefined without
   * labels): the accuracy lost, not netted against examples the policy fixes by luck.
   */
  lost?: number;
  /** Share of examples whose answer equals the final exit's argmax. */
  agreement: number;
  /** Examples answered before the last exit head. */
  earlyExits: number;
  /** Examples whose answer differs from the final exit's argmax. */
  disagreements: number;
  /** exitRates[l]: share of examples answered after 0-based layer l (0 for layers without a head); sums to 1. */
  exitRates: number[];
}

/**
 * What `policy` would have done on the collected runs: the same decideExit the devices call, fed
 * the heads' probabilities in order, so no model is run again.
 */
export function simulatePolicy(policy: ExitPolicy, runs: ExitRuns): PolicyOutcome {
  const { exitLayers, numLayers, rows } = runs;
  const exits = new Array<number>(numLayers).fill(0);
  let layers = 0;
  let correct = 0;
  let labelled = 0;
  let agree = 0;
  let lost = 0;
  let early = 0;
  for (const row of rows) {
    const answer = policyExit(policy, row, exitLayers);
    if (!answer) continue;
    const { k, layer, pred } = answer;
    const final = row.reference ?? argmaxOf(row.probs[exitLayers.length - 1]!);
    exits[layer]!++;
    layers += runs.appliedAt?.[k] ?? layer + 1;
    if (pred === final) agree++;
    if (k < exitLayers.length - 1 || row.reference !== undefined) early++;
    if (row.label !== undefined) {
      labelled++;
      if (pred === row.label) correct++;
      else if (final === row.label) lost++;
    }
  }
  const n = rows.length;
  const meanLayers = n === 0 ? 0 : layers / n;
  return {
    examples: n,
    meanLayers,
    speedup: meanLayers === 0 ? 0 : numLayers / meanLayers,
    ...(labelled > 0 && { accuracy: correct / labelled, lost: lost / labelled }),
    agreement: n === 0 ? 0 : agree / n,
    earlyExits: early,
    disagreements: n - agree,
    exitRates: exits.map((c) => (n === 0 ? 0 : c / n)),
  };
}
