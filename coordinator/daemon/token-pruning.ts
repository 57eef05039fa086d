import { existsSync } from 'node:fs';
import { checkScheduleFits, parseTokenPruning } from '@edgerelay/device-agent';
import { CalibrationFileError, defaultCalibrationPath, readCalibration } from '../calibration/index.js';
import type { CoordinatorOptions } from './options.js';

/**
 * The deployment's token pruning: its default for requests that name none, and what a request's
 * "calibrated" means (the schedule stored by `calibrate --token-pruning`, when the calibration file has one).
 * A malformed or misfitting default fails at start, not on every request.
 */
export function deploymentTokenPruning(
  options: Pick<CoordinatorOptions, 'modelDir' | 'calibrationFile' | 'tokenPruning'>,
  numLayers: number,
): { tokenPruning?: string; calibratedTokenPruning?: string } {
  const file = options.calibrationFile ?? defaultCalibrationPath(options.modelDir);
  const wanted = options.tokenPruning?.trim() === 'calibrated';
  let calibrated: string | undefined;
  try {
    calibrated = wanted || existsSync(file) ? readCalibration(file).tokenPruning : undefined;
  } catch (err) {
    // An unreadable calibration matters only to a deployment that asked for its schedule.
    if (wanted || !(err instanceof CalibrationFileError)) throw err;
  }
  const spec = wanted ? (calibrated ?? 'none') : options.tokenPruning;
  for (const s of [spec, calibrated]) {
    const p = s === undefined ? undefined : parseTokenPruning(s);
    if (p) checkScheduleFits(p, numLayers);
  }
  return { ...(spec && { tokenPruning: spec }), ...(calibrated && { calibratedTokenPruning: calibrated }) };
}
