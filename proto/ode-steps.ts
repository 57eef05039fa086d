import { EdgeRelayError } from './errors.js';

/**
 * ODE steps of a parameter-shared model: run the shared layer K times instead of L with step size β = L/K
 * on the residual branches. Step t (1..K) runs at layer slot floor(L·t/K) − 1, so the K steps land on
 * distinct slots (K ≤ L), step K on the last slot, and the exit after step t is the head trained at ODE
 * time floor(L·t/K) (the fixture card's convention). Slots without a step only forward the hidden state.
 */
export interface OdeSchedule {
  steps: number;
  stepSize: number;
  /** slot (0-based layer) of each step, ascending */
  stepSlots: number[];
}

export class OdeStepsError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_ODE_STEPS';
}

/** The schedule for K steps of an L-slot model; K undefined (or K = L) is the ordinary model. */
export function odeSchedule(numLayers: number, steps?: number): OdeSchedule {
  const K = steps ?? numLayers;
  if (!Number.isInteger(K) || K < 1 || K > numLayers) {
    throw new OdeStepsError(
      `ode_steps must be an integer from 1 to ${numLayers} (the model's layer applications), got ${steps}.`,
    );
  }
  const stepSlots = Array.from({ length: K }, (_, i) => Math.floor((numLayers * (i + 1)) / K) - 1);
  return { steps: K, stepSize: numLayers / K, stepSlots };
}

/** The exit layers a request sees with this schedule: the model's exits that sit on a step's slot. */
export function odeExitLayers(exitLayers: readonly number[], schedule: OdeSchedule): number[] {
  const slots = new Set(schedule.stepSlots);
  return exitLayers.filter((l) => slots.has(l));
}
