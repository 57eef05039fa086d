/** The model-running half of `calibrate --token-pruning`: one pass unpruned, one per candidate schedule. */
import { formatKeep } from '@edgerelay/device-agent';
import { readTextExamples } from '../datasets/index.js';
import type { LayerShape } from '../pruning/index.js';
import { openReferenceModel } from '../reference/index.js';
import { collectExitRuns, type ExitRuns } from './collect.js';
import { candidateSchedules } from './pruning-calibrate.js';
import type { CollectFileOptions } from './run.js';

export interface PruningSweepRuns {
  /** every layer on every token (rows carry their lengths) */
  reference: ExitRuns;
  pruned: { schedule: string; runs: ExitRuns }[];
}

export async function collectPruningSweep(options: CollectFileOptions, shape: LayerShape): Promise<PruningSweepRuns> {
  const data = readTextExamples(options.data);
  const { checkpoint, runner } = await openReferenceModel(options);
  try {
    const ones = new Array<number>(shape.numLayers).fill(1);
    let pass = 0;
    let passes = 1;
    const collect = (keep: number[]) =>
      collectExitRuns(runner, checkpoint, data.texts, data.labels, {
        batchSize: options.batchSize,
        pruning: { keep },
        onProgress: (done, total) => options.onProgress?.(pass * total + done, passes * total),
      });
    const reference = await collect(ones);
    const meanLength = reference.rows.reduce((a, r) => a + r.tokens![0]!, 0) / Math.max(1, reference.rows.length);
    const schedules = candidateSchedules(shape, meanLength).filter((k) => k.some((r) => r < 1));
    passes += schedules.length;
    const pruned = [{ schedule: formatKeep(ones), runs: reference }];
    for (const keep of schedules) {
      pass++;
      pruned.push({ schedule: formatKeep(keep), runs: await collect(keep) });
    }
    return { reference, pruned };
  } finally {
    await runner.release();
  }
}
