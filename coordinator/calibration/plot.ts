/**
 * The speed-accuracy curve of every swept policy: a Vega-Lite chart (the spec is the single source),
 * rendered to SVG by Vega and to PNG by resvg. No hand-drawn pixels, no bitmap font.
 */
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { CalibrationRecord } from './calibrate.js';
import { frontier, pruningPoints } from './plot-pruning.js';

/** The policies' colours (Tableau 10, as before): the same policy is the same colour in every chart. */
export const POLICY_COLORS: Record<string, string> = {
  'max-prob': '#1f77b4',
  entropy: '#ff7f0e',
  patience: '#2ca02c',
  dact: '#d62728',
  'dact-entropy': '#9467bd',
};
const FINAL_COLOR = '#5a5a5a';
const WIDTH = 720;
const HEIGHT = 420;

/** With trained units, dact and its entropy stand-in are drawn side by side and named apart. */
function seriesName(kind: string, record: CalibrationRecord): string {
  if (kind === 'dact') return record.halting === 'trained' ? 'dact trained' : 'dact entropy';
  return kind === 'dact-entropy' ? 'dact entropy' : kind;
}

/**
 * One line per policy through its settings (tuning rows), a ring on the chosen setting, and a dashed
 * rule at the final exit's accuracy. Without labels the y axis is agreement with the final exit.
 */
export function calibrationSpec(record: CalibrationRecord): TopLevelSpec {
  const measure = record.labelled ? 'accuracy' : 'agreement with final exit';
  const y = (r: { accuracy?: number; agreement: number }) => 100 * (record.labelled ? r.accuracy! : r.agreement);
  const points = record.table.map((r) => ({
    series: seriesName(r.kind, record),
    kind: r.kind,
    policy: r.policy,
    layers: r.meanLayers,
    y: y(r),
  }));
  const kinds = [...new Set(record.table.map((r) => r.kind))];
  // calibrate --token-pruning: its curves in compute (FLOPs ratio × layers), dots with a dashed frontier.
  const pruning = pruningPoints(record);
  const pruned = pruning.flatMap((c) =>
    c.points.map((p) => ({ series: c.name, policy: p.policy, layers: p.x, y: y(p) })),
  );
  const prunedFrontier = pruning.flatMap((c) =>
    frontier(c.points.map((p) => ({ series: c.name, layers: p.x, x: p.x, y: y(p) }))),
  );
  const series = [
    ...kinds.map((k) => ({ name: seriesName(k, record), color: POLICY_COLORS[k] ?? '#333333' })),
    ...pruning.map((c) => ({ name: c.name, color: c.color })),
  ];
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: 'policy',
    scale: { domain: series.map((s) => s.name), range: series.map((s) => s.color) },
  };
  const finalY = record.labelled ? 100 * (record.finalAccuracy?.tuning ?? 0) : 100;
  const joint = record.pruning?.joint.tuning;
  const chosen = joint
    ? { layers: joint.flopsRatio * record.numLayers, y: y({ accuracy: joint.accuracy, agreement: joint.agreement }) }
    : { layers: record.tuning.meanLayers, y: y(record.tuning) };
  const chosenName = !record.tokenPruning
    ? record.policy
    : record.policy === 'none'
      ? `pruning alone (${record.tokenPruning})`
      : `${record.policy} + ${record.tokenPruning}`;
  const yValues = [...points.map((p) => p.y), ...pruned.map((p) => p.y), finalY];
  const yScale = {
    zero: false,
    domain: [Math.floor(Math.min(...yValues) - 0.5), Math.ceil(Math.max(...yValues) + 0.5)],
  };
  const x = {
    field: 'layers',
    type: 'quantitative' as const,
    title: record.pruning ? 'encoder compute, in layers (FLOPs ratio × layers)' : 'mean encoder layers run',
    scale: { domain: [0, record.numLayers] },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `speed vs ${record.labelled ? 'accuracy' : 'agreement'}, ${record.split.tuningRows} tuning rows, target ${record.target}; chosen ${chosenName}`,
    width: WIDTH,
    height: HEIGHT,
    background: 'white',
    layer: [
      {
        data: { values: points },
        mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 },
        encoding: {
          x,
          y: { field: 'y', type: 'quantitative', title: `${measure} (%)`, scale: yScale },
          color,
          order: { field: 'layers', type: 'quantitative' },
          tooltip: [{ field: 'policy' }, { field: 'layers', format: '.2f' }, { field: 'y', format: '.2f' }],
        },
      },
      ...(pruned.length
        ? [
            {
              data: { values: pruned },
              mark: { type: 'point' as const, filled: true, size: 30 },
              encoding: {
                x,
                y: { field: 'y', type: 'quantitative' as const, scale: yScale },
                color,
                tooltip: [{ field: 'policy' }, { field: 'layers', format: '.2f' }, { field: 'y', format: '.2f' }],
              },
            },
            {
              data: { values: prunedFrontier },
              mark: { type: 'line' as const, strokeDash: [4, 3], strokeWidth: 2 },
              encoding: {
                x,
                y: { field: 'y', type: 'quantitative' as const, scale: yScale },
                color,
                order: { field: 'layers', type: 'quantitative' as const },
              },
            },
          ]
        : []),
      {
        data: { values: [{ y: finalY, label: 'final exit' }] },
        mark: { type: 'rule', strokeDash: [6, 4], color: FINAL_COLOR },
        encoding: { y: { field: 'y', type: 'quantitative', scale: yScale } },
      },
      {
        data: { values: [{ layers: record.numLayers, y: finalY, label: 'final exit' }] },
        mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -4, color: FINAL_COLOR },
        encoding: { x, y: { field: 'y', type: 'quantitative', scale: yScale }, text: { field: 'label' } },
      },
      {
        data: {
          values: [{ ...chosen, policy: `chosen: ${chosenName}` }],
        },
        mark: { type: 'point', shape: 'circle', size: 400, strokeWidth: 2, color: '#141414', filled: false },
        encoding: { x, y: { field: 'y', type: 'quantitative', scale: yScale }, tooltip: [{ field: 'policy' }] },
      },
    ],
  };
}

/** The chart as an SVG document (the cluster page shows this; the PNG is rendered from it). */
export async function calibrationSvg(record: CalibrationRecord): Promise<string> {
  const view = new View(parse(compile(calibrationSpec(record)).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The chart as a PNG, for files and reports. */
export async function plotCalibration(record: CalibrationRecord): Promise<Buffer> {
  const svg = await calibrationSvg(record);
  const png = new Resvg(svg, {
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return png.render().asPng();
}
