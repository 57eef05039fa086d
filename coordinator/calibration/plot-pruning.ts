/** The token-pruning curves the calibration plot adds: pruning alone, and pruning with its best exit setting. */
import type { CalibrationRecord } from './calibrate.js';
import type { Rgb } from './png.js';

export interface PruningCurve {
  name: string;
  color: Rgb;
  /** x: encoder compute in layer-equivalents (FLOPs ratio × layers), with the row's accuracy/agreement */
  points: { x: number; accuracy?: number; agreement: number }[];
}

export function pruningPoints(record: CalibrationRecord): PruningCurve[] {
  const table = record.pruning?.table ?? [];
  const point = (r: (typeof table)[number]) => ({
    x: r.flopsRatio * record.numLayers,
    ...(r.accuracy !== undefined && { accuracy: r.accuracy }),
    agreement: r.agreement,
  });
  const alone = table.filter((r) => r.policy === 'none');
  const withExits = table.filter((r) => r.policy !== 'none');
  return [
    { name: 'pruning alone', color: [23, 190, 207] as Rgb, points: alone.map(point) },
    ...(withExits.length
      ? [{ name: 'pruning + exits', color: [188, 189, 34] as Rgb, points: withExits.map(point) }]
      : []),
  ].filter((c) => c.points.length > 0);
}
