/** `eval --policy`: a policy (or the calibrated one) judged on collected runs. */
import { formatExitPolicy, type ExitPolicy } from '@edgerelay/device-agent';
import type { HaltingSignal } from '@edgerelay/device-agent';
import { hasTrainedHalting, type ExitRuns } from './collect.js';
import { simulatePolicy } from './simulate.js';

export interface PolicyFigures {
  /** The policy run, e.g. "max-prob=0.9" (for `calibrated`, the stored setting). */
  name: string;
  accuracy?: number;
  agreement: number;
  meanLayers: number;
  speedup: number;
  /** exitRates[l]: share answered after 0-based layer l. */
  exitRates: number[];
  /** dact policies only: the halting signal used (trained units, or the entropy stand-in). */
  halting?: HaltingSignal;
}

/** The h_n a dact policy runs on with these runs; undefined for other policies. */
export function haltingSignalOf(policy: ExitPolicy, runs: ExitRuns): HaltingSignal | undefined {
  if (policy.kind !== 'dact') return undefined;
  return !policy.standIn && hasTrainedHalting(runs) ? 'trained' : 'entropy';
}

export function policyFigures(policy: ExitPolicy, runs: ExitRuns): PolicyFigures {
  const o = simulatePolicy(policy, runs);
  return {
    name: formatExitPolicy(policy),
    ...(o.accuracy !== undefined && { accuracy: o.accuracy }),
    agreement: o.agreement,
    meanLayers: o.meanLayers,
    speedup: o.speedup,
    exitRates: o.exitRates,
    ...(policy.kind === 'dact' && { halting: haltingSignalOf(policy, runs) }),
  };
}
