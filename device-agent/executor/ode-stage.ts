import { IO, OdeStepsError, odeExitLayers, odeSchedule } from '@edgerelay/proto';
import type { FrameOf, HostTensor } from '@edgerelay/proto';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import { STEP_REFUSED_CODES, StepRefusedError } from '../errors.js';

/** What a request's ODE step count means to a stage: which slots run, at what step size, where exits are. */
export interface StageOde {
  steps: number;
  /** true when K < L: slots without a step only forward the hidden state */
  skips: boolean;
  runs(layer: number): boolean;
  /** the plan's exits that sit on a step (all of them for the ordinary model) */
  exitLayers: number[];
  /** feed for parameter-shared layer and combine shards (other shards have no such input and ignore it) */
  feed: Record<string, HostTensor>;
}

export function stageOde(plan: Plan, frame: FrameOf<'stage-input'>): StageOde {
  let schedule;
  try {
    schedule = odeSchedule(plan.numLayers, frame.odeSteps);
  } catch (err) {
    if (err instanceof OdeStepsError) throw new StepRefusedError(STEP_REFUSED_CODES.badOdeSteps, err.message);
    throw err;
  }
  const slots = new Set(schedule.stepSlots);
  return {
    steps: schedule.steps,
    skips: schedule.steps !== plan.numLayers,
    runs: (layer) => slots.has(layer),
    exitLayers: odeExitLayers(plan.exitLayers, schedule),
    feed: { [IO.stepSize]: { dtype: 'float32', data: Float32Array.of(schedule.stepSize), dims: [1] } },
  };
}

/** K < L on shards without a step-size input (a BERT) would silently run a truncated model: refuse instead. */
export function checkSharedLayer(inputNames: readonly string[], steps: number): void {
  if (!inputNames.includes(IO.stepSize)) {
    throw new StepRefusedError(
      STEP_REFUSED_CODES.badOdeSteps,
      `ode_steps ${steps} needs a parameter-shared (ALBERT) model; this plan's layers are not shared`,
    );
  }
}
