/**
 * Token pruning judged on collected runs: the pruned model's answers (under an exit policy or not)
 * against the labels and against the unpruned model's final answer, with the encoder FLOPs it ran.
 */
import { argmaxOf, type ExitPolicy } from '@edgerelay/device-agent';
import { flopsOfTokens, layerFlops, type LayerShape } from '../pruning/index.js';
import type { ExitRuns } from './collect.js';
import { policyExit } from './simulate.js';

export interface PruningOutcome {
  examples: number;
  /** Share of labelled rows answered correctly (undefined without labels). */
  accuracy?: number;
  /** Share of labelled rows the unpruned final exit gets right and this run gets wrong. */
  lost?: number;
  /** Share of rows whose answer equals the unpruned model's final answer. */
  agreement: number;
  disagreements: number;
  /** Encoder FLOPs run / the unpruned model's full encoder FLOPs (flops.ts), exits counted. */
  flopsRatio: number;
  /** Mean tokens per layer run (over rows and the layers each ran). */
  meanTokensKept: number;
  /** Mean real tokens per text (what every layer runs on unpruned). */
  meanTokens: number;
  meanLayers: number;
  earlyExits: number;
}

/**
 * `pruned` and `reference` hold the same rows in the same order: the pruned runs (with tokens per
 * layer) and the unpruned ones. The policy runs on the pruned heads exactly as the devices run it.
 */
export function simulatePruning(
  shape: LayerShape,
  pruned: ExitRuns,
  reference: ExitRuns,
  policy: ExitPolicy = { kind: 'none' },
): PruningOutcome {
  const { exitLayers, numLayers, rows } = pruned;
  let flops = 0;
  let full = 0;
  let tokensRun = 0;
  let layersRun = 0;
  let tokens = 0;
  let correct = 0;
  let labelled = 0;
  let lost = 0;
  let agree = 0;
  let early = 0;
  rows.forEach((row, i) => {
    const perLayer = row.tokens ?? [];
    const n = perLayer[0] ?? 0;
    const refFinal = argmaxOf(reference.rows[i]!.probs.at(-1)!);
    const answer = policyExit(policy, row, exitLayers);
    if (!answer) return;
    const { k, layer, pred } = answer;
    const ran = perLayer.slice(0, layer + 1);
    flops += flopsOfTokens(shape, ran);
    full += numLayers * layerFlops(shape, n);
    tokensRun += ran.reduce((a, t) => a + t, 0);
    layersRun += ran.length;
    tokens += n;
    if (pred === refFinal) agree++;
    if (k < exitLayers.length - 1) early++;
    if (row.label !== undefined) {
      labelled++;
      if (pred === row.label) correct++;
      else if (refFinal === row.label) lost++;
    }
  });
  const count = rows.length;
  return {
    examples: count,
    ...(labelled > 0 && { accuracy: correct / labelled, lost: lost / labelled }),
    agreement: count ? agree / count : 0,
    disagreements: count - agree,
    flopsRatio: full ? flops / full : 0,
    meanTokensKept: layersRun ? tokensRun / layersRun : 0,
    meanTokens: count ? tokens / count : 0,
    meanLayers: count ? layersRun / count : 0,
    earlyExits: early,
  };
}
