/**
 * The baseline: Michel et al.'s procedure, remove heads least important first (by the importance score)
 * and stop before the first removal that breaks the constraint.
 */
import type { SearchResult, Verdict } from './astar.js';

export async function greedyPrune(options: {
  order: number[];
  evaluate: (removed: number[]) => Promise<Verdict>;
  rootScore: number;
  budget: number;
  onEvaluation?: (evaluations: number, bestSize: number) => void;
}): Promise<SearchResult> {
  let removed: number[] = [];
  let score = options.rootScore;
  let evaluations = 0;
  for (const head of options.order) {
    if (evaluations >= options.budget) break;
    const candidate = [...removed, head];
    const verdict = await options.evaluate(candidate);
    evaluations++;
    options.onEvaluation?.(evaluations, verdict.ok ? candidate.length : removed.length);
    if (!verdict.ok) break;
    removed = candidate;
    score = verdict.score;
  }
  return { removed, score, evaluations, optimal: false };
}
