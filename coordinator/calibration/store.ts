import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { parseExitPolicy, type ExitPolicy } from '@edgerelay/device-agent';
import { EdgeRelayError } from '@edgerelay/proto';
import { CALIBRATION_VERSION, type CalibrationRecord } from './calibrate.js';

/** Where calibrate stores its result unless told otherwise: beside the model it describes. */
export const CALIBRATION_FILE = 'edgerelay-calibration.json';

export class CalibrationFileError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_CALIBRATION_FILE';
}

export function defaultCalibrationPath(modelDir: string): string {
  return join(resolve(modelDir), CALIBRATION_FILE);
}

export function writeCalibration(path: string, record: CalibrationRecord): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
}

// Only what readers rely on is checked; the tables are informative.
const recordSchema = z.looseObject({
  version: z.number().int(),
  policy: z.string(),
  target: z.string(),
  numLayers: z.number().int().positive(),
  exitLayers: z.array(z.number().int().nonnegative()),
  exitRates: z.array(z.number().min(0).max(1)),
});

export function readCalibration(path: string): CalibrationRecord & { exitPolicy: ExitPolicy } {
  if (!existsSync(path)) {
    throw new CalibrationFileError(
      `No calibration at ${path}. Run \`edgerelay calibrate --model DIR --data FILE\` first, or pass --calibration FILE.`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CalibrationFileError(
      `${path} is not valid JSON (${(e as Error).message}); re-run \`edgerelay calibrate\` to rewrite it.`,
    );
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    throw new CalibrationFileError(
      `${path} is not an edgerelay calibration file (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}); re-run \`edgerelay calibrate\`.`,
    );
  }
  if (parsed.data.version !== CALIBRATION_VERSION) {
    throw new CalibrationFileError(
      `${path} has calibration format version ${parsed.data.version}; this edgerelay reads version ${CALIBRATION_VERSION}. Re-run \`edgerelay calibrate\`.`,
    );
  }
  const record = parsed.data as unknown as CalibrationRecord;
  return { ...record, exitPolicy: parseExitPolicy(record.policy) };
}
