/** The token-pruning curves the calibration plot adds: pruning alone, and pruning with its best exit setting. */
import type { CalibrationRecord } from './calibrate.js';

export interface PruningCurve {
  name: string;
  color: string;
  /** x: encoder compute in layer-equivalents (FLOPs ratio × layers), with the row's accuracy/agreement */
  points: { x: number; accuracy?: number; agreement: number; policy: string }[];
}

export function pruningPoints(record: CalibrationRecord): PruningCurve[] {
  const table = record.pruning?.table ?? [];
  const point = (r: (typeof table)[number]) => ({
    x: r.flopsRatio * record.numLayers,
    ...(r.accuracy !== undefined && { accuracy: r.accuracy }),
    agreement: r.agreement,
    policy: r.policy === 'none' ? r.schedule : `${r.policy} + ${r.schedule}`,
  });
  const alone = table.filter((r) => r.policy === 'none');
  const withExits = table.filter((r) => r.policy !== 'none');
  return [
    { name: 'pruning alone', color: '#17becf', points: alone.map(point) },
    ...(withExits.length ? [{ name: 'pruning + exits', color: '#bcbd22', points: withExits.map(point) }] : []),
  ].filter((c) => c.points.length > 0);
}

/** The points of a curve on its frontier: the best answer at or below each compute, left to right. */
export function frontier<P extends { x: number; y: number }>(points: P[]): P[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || b.y - a.y);
  return sorted.filter((p, i) => sorted.slice(0, i).every((q) => q.y < p.y));
}
