/** The text `edgerelay calibrate` prints: the speed-accuracy table and the choice. */
import type { CalibrationRecord, OutcomeSummary, TableRow } from './calibrate.js';

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);

/**
 * The settings tried on the tuning rows. Unless `all`, a policy's fine grid is thinned to round
 * parameters (multiples of 0.05), the settings where the target starts or stops being met, and each
 * policy's pick (marked *); consecutive settings with identical figures are folded into one line.
 */
export function formatTable(record: CalibrationRecord, all = false): string {
  const picks = new Set(record.perPolicy.map((c) => c.policy));
  const shown = all
    ? record.table
    : record.table.filter((r, i, rows) => {
        const prev = rows[i - 1];
        const next = rows[i + 1];
        const edge = (o: TableRow | undefined) =>
          o !== undefined && o.kind === r.kind && o.meetsTarget !== r.meetsTarget;
        return (
          r.kind === 'patience' ||
          isRound(r.parameter) ||
          edge(prev) ||
          edge(next) ||
          picks.has(r.policy) ||
          i === rows.length - 1 ||
          next?.kind !== r.kind
        );
      });
  const lines = [
    `${'setting'.padEnd(24)}${'mean layers'.padStart(12)}${'speedup'.padStart(9)}${'accuracy'.padStart(10)}${'agreement'.padStart(11)}  target`,
  ];
  for (const group of foldRows(shown)) {
    const first = group[0]!;
    const last = group[group.length - 1]!;
    const name =
      (group.length === 1 ? first.policy : `${first.policy}..${last.parameter}`) +
      (group.some((r) => picks.has(r.policy)) ? ' *' : '');
    lines.push(
      `${name.padEnd(24)}${first.meanLayers.toFixed(3).padStart(12)}${`${first.speedup.toFixed(2)}×`.padStart(9)}` +
        `${pct(first.accuracy).padStart(10)}${pct(first.agreement).padStart(11)}  ${first.meetsTarget ? 'met' : ''}`,
    );
  }
  return lines.join('\n');
}

function isRound(x: number): boolean {
  return Math.abs(x * 20 - Math.round(x * 20)) < 1e-9;
}

function foldRows(rows: TableRow[]): TableRow[][] {
  const groups: TableRow[][] = [];
  for (const r of rows) {
    const g = groups[groups.length - 1];
    const prev = g?.[g.length - 1];
    const same =
      prev &&
      prev.kind === r.kind &&
      prev.meanLayers === r.meanLayers &&
      prev.accuracy === r.accuracy &&
      prev.agreement === r.agreement;
    if (same) g!.push(r);
    else groups.push([r]);
  }
  return groups;
}

export function formatSummary(s: OutcomeSummary): string {
  const acc =
    s.accuracy === undefined
      ? ''
      : `accuracy ${pct(s.accuracy)} (drop ${(100 * (s.accuracyDrop ?? 0)).toFixed(2)} points), `;
  return `${s.meanLayers.toFixed(3)} layers (${s.speedup.toFixed(2)}× less encoder compute), ${acc}agreement ${pct(s.agreement)} on ${s.examples} rows`;
}

/** The chosen setting, each policy's best, and the per-layer exit rates. */
export function formatChoice(record: CalibrationRecord): string {
  const lines = [
    `best per policy (target ${record.target}, tuned on ${record.split.tuningRows} rows${record.split.heldOutRows ? `, checked on ${record.split.heldOutRows} held-apart rows` : ''}):`,
  ];
  for (const c of record.perPolicy) {
    lines.push(`  ${c.policy.padEnd(18)} tuning: ${formatSummary(c.tuning)}${c.met ? '' : '  [target not met]'}`);
    if (c.heldOut) lines.push(`  ${''.padEnd(18)} held-out: ${formatSummary(c.heldOut)}`);
  }
  lines.push(`chosen: ${record.policy}${record.met ? '' : `  (no setting meets ${record.target} on the tuning rows)`}`);
  lines.push(`  tuning:   ${formatSummary(record.tuning)}`);
  if (record.heldOut) lines.push(`  held-out: ${formatSummary(record.heldOut)}`);
  lines.push(
    `dact halting signal: ${record.halting === 'trained' ? 'trained halting units (dact-entropy: the entropy stand-in, for comparison)' : 'entropy stand-in (the checkpoint has no trained halting units)'}`,
  );
  lines.push(`exit rate per layer: ${record.exitRates.map((r, l) => `${l + 1}: ${pct(r)}`).join(', ')}`);
  return lines.join('\n');
}
