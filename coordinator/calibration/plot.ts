/** The speed-accuracy curve of every swept policy as a PNG: mean layers run against accuracy. */
import type { CalibrationRecord } from './calibrate.js';
import { Raster, textWidth, type Rgb } from './png.js';
import { pruningPoints } from './plot-pruning.js';

const COLORS: Record<string, Rgb> = {
  'max-prob': [31, 119, 180],
  entropy: [255, 127, 14],
  patience: [44, 160, 44],
  dact: [214, 39, 40],
  'dact-entropy': [148, 103, 189],
  none: [90, 90, 90],
};
const INK: Rgb = [20, 20, 20];
const GRID: Rgb = [225, 225, 225];

const W = 960;
const H = 600;
const LEFT = 100;
const RIGHT = 230;
const TOP = 60;
const BOTTOM = 80;

/**
 * One line per policy through its settings (tuning rows), a ring on the chosen setting, and a dashed
 * line at the final exit's accuracy. Without labels the y axis is agreement with the final exit.
 */
export function plotCalibration(record: CalibrationRecord): Buffer {
  const img = new Raster(W, H);
  const yOf = (r: { accuracy?: number; agreement: number }) => 100 * (record.labelled ? r.accuracy! : r.agreement);
  const finalY = record.labelled ? 100 * (record.finalAccuracy?.tuning ?? 0) : 100;
  const pruningCurves = record.pruning ? pruningPoints(record) : [];
  const ys = [...record.table.map(yOf), ...pruningCurves.flatMap((c) => c.points.map(yOf)), finalY];
  const [yMin, yMax, yStep] = niceRange(Math.min(...ys), Math.max(...ys));
  const xMin = 0;
  const xMax = record.numLayers;
  const px = (x: number) => LEFT + ((x - xMin) / (xMax - xMin)) * (W - LEFT - RIGHT);
  const py = (y: number) => H - BOTTOM - ((y - yMin) / (yMax - yMin)) * (H - TOP - BOTTOM);

  // Grid, ticks and tick labels.
  for (let x = xMin; x <= xMax; x++) {
    img.line(px(x), py(yMin), px(x), py(yMax), GRID);
    const label = String(x);
    img.text(px(x) - textWidth(label) / 2, py(yMin) + 10, label, INK);
  }
  for (let y = yMin; y <= yMax + yStep / 2; y += yStep) {
    img.line(px(xMin), py(y), px(xMax), py(y), GRID);
    const label = `${y.toFixed(decimals(yStep))}%`;
    img.text(px(xMin) - 10 - textWidth(label), py(y) - 7, label, INK);
  }
  img.line(px(xMin), py(yMin), px(xMax), py(yMin), INK, 2);
  img.line(px(xMin), py(yMin), px(xMin), py(yMax), INK, 2);

  // Axis titles and the chart title.
  const xTitle = record.pruning ? 'encoder compute, in layers (FLOPs ratio x layers)' : 'mean encoder layers run';
  img.text((px(xMin) + px(xMax)) / 2 - textWidth(xTitle) / 2, H - 35, xTitle, INK);
  const yTitle = record.labelled ? 'accuracy' : 'agreement with final exit';
  img.textUp(18, (py(yMin) + py(yMax)) / 2 + textWidth(yTitle) / 2, yTitle, INK);
  const title = `speed vs ${record.labelled ? 'accuracy' : 'agreement'}, ${record.split.tuningRows} tuning rows, target ${record.target}`;
  img.text(LEFT, 20, title, INK);

  // Reference: the final exit.
  img.line(px(xMin), py(finalY), px(xMax), py(finalY), COLORS.none!, 1, 6);

  // With trained units, dact and its entropy stand-in are drawn side by side and named apart.
  const legendName = (kind: string) =>
    kind === 'dact'
      ? record.halting === 'trained'
        ? 'dact trained'
        : 'dact entropy'
      : kind === 'dact-entropy'
        ? 'dact entropy'
        : kind;
  // One polyline per policy, settings ordered by layers run.
  const kinds = [...new Set(record.table.map((r) => r.kind))];
  for (const kind of kinds) {
    const color = COLORS[kind] ?? INK;
    const points = record.table
      .filter((r) => r.kind === kind)
      .map((r) => [px(r.meanLayers), py(yOf(r))] as const)
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let i = 1; i < points.length; i++)
      img.line(points[i - 1]![0], points[i - 1]![1], points[i]![0], points[i]![1], color, 2);
    for (const [x, y] of points) img.circle(x, y, 3, color);
  }
  for (const curve of pruningCurves) {
    const points = curve.points.map((r) => [px(r.x), py(yOf(r))] as const).sort((a, b) => a[0] - b[0]);
    for (const [x, y] of points) img.circle(x, y, 3, curve.color);
    // The line joins the frontier: the best answer at or below each compute.
    const frontier = points.filter((p, i) => points.slice(0, i).every((q) => q[1] > p[1]));
    for (let i = 1; i < frontier.length; i++)
      img.line(frontier[i - 1]![0], frontier[i - 1]![1], frontier[i]![0], frontier[i]![1], curve.color, 2, 4);
  }
  const joint = record.pruning?.joint.tuning;
  const chosen = joint
    ? { x: joint.flopsRatio * record.numLayers, y: yOf({ accuracy: joint.accuracy, agreement: joint.agreement }) }
    : { x: record.tuning.meanLayers, y: yOf(record.tuning) };
  img.circle(px(chosen.x), py(chosen.y), 9, INK, false);
  img.circle(px(chosen.x), py(chosen.y), 10, INK, false);

  // Legend.
  let ly = TOP + 10;
  const lx = W - RIGHT + 25;
  for (const kind of kinds) {
    img.line(lx, ly + 7, lx + 30, ly + 7, COLORS[kind] ?? INK, 3);
    img.text(lx + 40, ly, legendName(kind), INK);
    ly += 28;
  }
  for (const curve of pruningCurves) {
    img.line(lx, ly + 7, lx + 30, ly + 7, curve.color, 3, 4);
    img.text(lx + 40, ly, curve.name, INK);
    ly += 28;
  }
  img.line(lx, ly + 7, lx + 30, ly + 7, COLORS.none!, 1, 6);
  img.text(lx + 40, ly, 'final exit', INK);
  ly += 28;
  img.circle(lx + 15, ly + 7, 9, INK, false);
  img.text(lx + 40, ly, 'chosen:', INK);
  // Long settings (dact-entropy=0.88) do not fit the legend column at the normal size.
  const chosenName = !record.tokenPruning
    ? record.policy
    : record.policy === 'none'
      ? 'pruning alone'
      : `${record.policy} + pruning`;
  img.text(lx + 40, ly + 22, chosenName, INK, textWidth(chosenName) > RIGHT - 65 ? 1 : 2);
  return img.toPng();
}

/** A padded axis range with a 1-2-5 step giving about five intervals. */
export function niceRange(lo: number, hi: number): [number, number, number] {
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const raw = (hi - lo) / 5;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step, step];
}

function decimals(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}
