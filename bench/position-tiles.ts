import path from 'node:path';
import type { Plan__Output as Plan } from '@edgerelay/proto';
import { projectRoot } from '../sim/cli/paths.js';
import { clusterFromFile, planCluster, readClusterFile, readPlannerModel } from '../coordinator/planning/index.js';
import { bertBaseCheckpoint } from './models.js';
import { median, percentile } from './stats.js';
import { busyWarning, machineLoad, pairedRatio } from './busy.js';
import { emulationVerdict } from './emulation-check.js';
import { measureInterleaved } from './interleave.js';
import { startEmulatedCluster } from './planner.js';

export interface PositionTilesArgs {
  tiles: number[];
  rounds: number;
  requests: number;
}

/** Four Pi 4 on gigabit, and the same four on Wi-Fi, where sending keys and values takes longer than computing them. */
const LINKS = ['gigabit', 'wifi'] as const;

/**
 * The position-parallel group of four Pi 4 (bert-base shape, 128 tokens), its members running each layer whole and
 * tile by tile (`Stage.position_tiles`, docs/sequence-parallel.md), interleaved round by round on the same agents.
 * Prints each tile count's median request time and its ratio to one tile (paired by round, 10th–90th percentile),
 * and flags a tile count whose emulated devices could not keep up.
 */
export async function benchPositionTiles(args: PositionTilesArgs): Promise<void> {
  const loads = [machineLoad()];
  const modelDir = await bertBaseCheckpoint();
  const model = readPlannerModel(modelDir);
  const file = readClusterFile(path.join(projectRoot(), 'sim', 'clusters', '4x-pi4-gigabit.json'));
  const seqLen = 128;
  const text = Array.from({ length: seqLen - 2 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ');
  const lines = [
    `position-tiles: 4 × Pi 4, bert-base shape, ${seqLen} tokens, position-parallel group; ${args.rounds} rounds × ${args.requests} requests per tile count, interleaved`,
  ];
  for (const link of LINKS) {
    const variant = { ...file, links: { default: link } };
    const base = { seqLen, wireDtype: 'float32', version: 1, exitThreshold: 0 } as const;
    const { plan } = planCluster(model, clusterFromFile(variant), {
      ...base,
      objective: 'latency',
      groupForms: ['position-parallel'],
    });
    const plans = args.tiles.map((tiles) => ({
      name: `${tiles}`,
      plan: { ...plan, stages: plan.stages.map((s) => ({ ...s, positionTiles: tiles })) } as Plan,
    }));
    process.stderr.write(`position-tiles: ${link}: starting 4 emulated agents\n`);
    const sim = await startEmulatedCluster(variant, modelDir);
    let measured;
    try {
      await sim.coordinator.linksMeasured();
      measured = await measureInterleaved(sim, plans, [text], args);
    } finally {
      await sim.stop();
    }
    loads.push(machineLoad());
    const one = measured.get(`${args.tiles[0]}`)!;
    lines.push(
      '',
      `${link} links`,
      ['tiles', 'median ms', 'p10–p90 ms', 'vs one tile (p10–p90 of round pairs)', 'overshoot'].join('  '),
    );
    for (const tiles of args.tiles) {
      const m = measured.get(`${tiles}`)!;
      const r = pairedRatio(m.roundMedians, one.roundMedians);
      const verdict = emulationVerdict(m.counters);
      const spread = `${percentile(m.samples, 10).toFixed(0)}–${percentile(m.samples, 90).toFixed(0)}`;
      const ratio = `${r.median.toFixed(3)}× (${r.p10.toFixed(3)}–${r.p90.toFixed(3)})`;
      const overshoot = `${(verdict.overshoot * 100).toFixed(1)}%${verdict.flag ? ' FLAGGED: ' + verdict.flag : ''}`;
      lines.push(
        [
          String(tiles).padStart(5),
          median(m.samples).toFixed(0).padStart(9),
          spread.padStart(10),
          ratio.padEnd(36),
          overshoot.padStart(9),
        ].join('  '),
      );
    }
  }
  process.stdout.write(lines.join('\n') + '\n' + busyWarning(loads));
}
