/** `calibrate --token-pruning`'s text: the chosen settings, on the tuning and the held-apart rows. */
import type { PruningCalibration, PruningChoice } from './pruning-calibrate.js';
import type { PruningOutcome } from './pruning-outcome.js';

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);

function line(o: PruningOutcome): string {
  return (
    `accuracy ${pct(o.accuracy)}, agreement ${pct(o.agreement)}, encoder FLOPs ×${o.flopsRatio.toFixed(3)} ` +
    `(${(1 / o.flopsRatio).toFixed(2)}× fewer), ${o.meanTokensKept.toFixed(1)} of ${o.meanTokens.toFixed(1)} tokens per layer run`
  );
}

function choice(name: string, c: PruningChoice): string {
  const head = `${name}: ${c.schedule}${c.policy !== 'none' ? ` with ${c.policy}` : ''}${c.met ? '' : ' (target not met)'}`;
  return [
    head,
    `  tuning rows:      ${line(c.tuning)}`,
    ...(c.heldOut ? [`  held-apart rows:  ${line(c.heldOut)}`] : []),
  ].join('\n');
}

export function formatPruning(p: PruningCalibration): string {
  const joint = p.joint === p.alone ? [] : [choice('token pruning with exits (stored)', p.joint)];
  return [choice(`token pruning alone${joint.length ? '' : ' (stored)'}`, p.alone), ...joint].join('\n');
}
