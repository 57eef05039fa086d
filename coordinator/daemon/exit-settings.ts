import type pino from 'pino';
import { parseExitPolicy } from '@edgerelay/device-agent';
import type { CalibrationRecord } from '../calibration/index.js';
import { defaultCalibrationPath, readCalibration } from '../calibration/store.js';
import type { CoordinatorOptions } from './options.js';

/**
 * The deployment's exit policy (and ODE steps), settled before anything starts: `calibrated` is replaced by the policy
 * the calibration chose (whose exit rates the planner then uses), any other spec is parsed so a typo
 * fails at start, not on every request.
 */
export function settleExitPolicy(
  options: Pick<CoordinatorOptions, 'settings' | 'calibrationFile' | 'modelDir'>,
  logger: pino.Logger,
): CalibrationRecord | undefined {
  const policy = options.settings.exitPolicy;
  if (policy === 'calibrated') {
    const record = readCalibration(options.calibrationFile ?? defaultCalibrationPath(options.modelDir));
    options.settings.exitPolicy = record.policy;
    // A calibration that chose fewer ODE steps runs them, unless the deployment names its own.
    if (record.odeSteps !== undefined) options.settings.odeSteps ??= record.odeSteps;
    logger.info({ policy: record.policy }, 'using the calibrated exit policy');
    return record;
  }
  if (policy) parseExitPolicy(policy);
  return undefined;
}
