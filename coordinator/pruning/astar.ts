/**
 * A* over sets of removed heads (docs/head-pruning.md has the formulation and why it is admissible).
 *
 * Heads are put in a fixed order (least important first). A state is a set S of removed heads, written as
 * increasing positions in that order, and is in the search space when every prefix of it (in that order)
 * passes the accuracy constraint: the pruning could have been done one head at a time without ever
 * leaving the allowed drop. A state's successors add one head after its last position. We maximise |S|,
 * i.e. minimise the heads kept; as a cost, g(S) = heads passed over (kept) up to S's last position and
 * h(S) = 0, which never overestimates. Equivalently the bound f(S) = |S| + (heads after S's last position)
 * is an upper bound on the size of any state below S. States are popped highest f first (then deepest,
 * then best parent score) and evaluated when popped; the search stops, with a proven optimum, when no open
 * state's bound beats the best state found, or when the evaluation budget is spent (best found so far).
 */

export interface Verdict {
  /** Whether the set keeps the constraint. */
  ok: boolean;
  /** Tuning figure (accuracy, or agreement on unlabelled rows); breaks ties between sets of one size. */
  score: number;
}

export interface AStarOptions {
  /** Head ids in the search order, least important first. */
  order: number[];
  /** Evaluates one candidate set (head ids). Called at most `budget` times. */
  evaluate: (removed: number[]) => Promise<Verdict>;
  /** Score of the empty set (the unpruned model), which needs no evaluation. */
  rootScore: number;
  budget: number;
  /** After each evaluation: evaluations so far and the size of the best set. */
  onEvaluation?: (evaluations: number, bestSize: number) => void;
}

export interface SearchResult {
  /** Head ids removed, in search order. */
  removed: number[];
  score: number;
  evaluations: number;
  /** True when the search finished: no set in the search space removes more heads. */
  optimal: boolean;
}

interface OpenState {
  positions: number[];
  f: number;
  parentScore: number;
  seq: number;
}

/** Highest f first, then deeper, then higher parent score, then first pushed. */
function before(a: OpenState, b: OpenState): boolean {
  if (a.f !== b.f) return a.f > b.f;
  if (a.positions.length !== b.positions.length) return a.positions.length > b.positions.length;
  if (a.parentScore !== b.parentScore) return a.parentScore > b.parentScore;
  return a.seq < b.seq;
}

export async function aStarPrune(options: AStarOptions): Promise<SearchResult> {
  const N = options.order.length;
  const open = new Heap<OpenState>(before);
  let seq = 0;
  let best = { positions: [] as number[], score: options.rootScore };
  let evaluations = 0;
  const expand = (positions: number[], score: number) => {
    const last = positions.length ? positions[positions.length - 1]! : -1;
    for (let q = last + 1; q < N; q++) {
      const f = positions.length + 1 + (N - 1 - q);
      // A child whose bound cannot beat the best set found is never worth an evaluation.
      if (f <= best.positions.length) break;
      open.push({ positions: [...positions, q], f, parentScore: score, seq: seq++ });
    }
  };
  expand([], options.rootScore);
  while (open.size > 0) {
    const top = open.peek()!;
    if (top.f <= best.positions.length) break; // nothing left can remove more heads: best is optimal
    if (evaluations >= options.budget) break;
    open.pop();
    const removed = top.positions.map((p) => options.order[p]!);
    const verdict = await options.evaluate(removed);
    evaluations++;
    if (verdict.ok) {
      const size = top.positions.length;
      if (size > best.positions.length || (size === best.positions.length && verdict.score > best.score))
        best = { positions: top.positions, score: verdict.score };
      expand(top.positions, verdict.score);
    }
    options.onEvaluation?.(evaluations, best.positions.length);
  }
  const optimal = open.size === 0 || open.peek()!.f <= best.positions.length;
  return { removed: best.positions.map((p) => options.order[p]!), score: best.score, evaluations, optimal };
}

/** Binary heap; `first(a, b)` says whether a comes out before b. */
class Heap<T> {
  private readonly items: T[] = [];
  constructor(private readonly first: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.first(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.first(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.first(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
