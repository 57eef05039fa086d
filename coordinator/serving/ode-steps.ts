import { OdeStepsError, odeSchedule } from '@edgerelay/proto';
import { InvalidRequestError } from '../api/http-errors.js';
import type { Checkpoint } from '../checkpoint/types.js';

/**
 * A request's ODE step count, checked before anything is sent: K must be 1..L of a parameter-shared model.
 * Undefined (or K = L) runs every layer; that is also the only choice for a model whose layers are not shared.
 */
export function checkedOdeSteps(odeSteps: number | undefined, sharedLayers: number | undefined): number | undefined {
  if (odeSteps === undefined) return undefined;
  if (sharedLayers === undefined) {
    throw new InvalidRequestError(
      `parameters.ode_steps: the deployed model's layers are not shared (not an ALBERT); leave ode_steps unset`,
    );
  }
  if (odeSteps > sharedLayers) {
    throw new InvalidRequestError(
      `parameters.ode_steps: must be from 1 to ${sharedLayers}, the deployed model's layer applications`,
    );
  }
  return odeSteps === sharedLayers ? undefined : odeSteps;
}

/** A deployment's ODE steps must fit a parameter-shared model: refuse at start with what to change. */
export function checkDeploymentOdeSteps(checkpoint: Checkpoint, odeSteps: number | undefined): void {
  if (odeSteps === undefined) return;
  odeSchedule(checkpoint.config.numLayers, odeSteps);
  if (!checkpoint.config.albert && odeSteps !== checkpoint.config.numLayers) {
    throw new OdeStepsError(
      `--ode-steps ${odeSteps} needs a parameter-shared (ALBERT) model; ${checkpoint.dir} is a ` +
        `${checkpoint.config.modelType} model. Leave --ode-steps unset.`,
    );
  }
}
