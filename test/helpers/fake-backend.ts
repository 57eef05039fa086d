import {
  InputTooLongError,
  type BackendHealth,
  type ClassificationOutcome,
  type ClassifierBackend,
  type ClassifyOptions,
  type LabelScore,
} from '../../coordinator/api/index.js';
import type { TextInput } from '../../coordinator/tokenizer/index.js';

/** The string the fake answers for: a text, or a pair's two texts joined by " || ". */
export function fakeKey(input: TextInput): string {
  return typeof input === 'string' ? input : `${input.text} || ${input.textPair}`;
}

export const LABELS = ['NEUTRAL', 'NEGATIVE', 'POSITIVE'];
const FINAL_LAYER = 6;

/** Deterministic per text, so the test can predict every number the API must return. */
export function outcomeFor(text: string): ClassificationOutcome {
  const p = (text.length % 10) / 10;
  const exitLayer = (text.length % FINAL_LAYER) + 1;
  const agents = exitLayer <= 3 ? ['pi-a'] : ['pi-a', 'pi-b'];
  return {
    // Deliberately not sorted by score: the API must rank them itself.
    scores: [
      { label: 'NEUTRAL', score: 0.1 },
      { label: 'NEGATIVE', score: 0.9 * (1 - p) },
      { label: 'POSITIVE', score: 0.9 * p },
    ],
    logits: [0.1, 0.9 * (1 - p), 0.9 * p].map((x) => Math.log(x)),
    exitLayer,
    early: exitLayer < FINAL_LAYER,
    agents,
    totalMs: 10 + text.length,
    hops: agents.map((agent, stage) => ({
      agent,
      stage,
      layersRun: 3,
      computeMs: 2.5 + stage,
      groupWaitMs: 0,
      members: [],
    })),
  };
}

/** What the API should answer for a text: labels by descending score. */
export function expectedRanking(text: string, topK = LABELS.length): LabelScore[] {
  return [...outcomeFor(text).scores].sort((a, b) => b.score - a.score).slice(0, topK);
}

/** A backend whose answers are computed from the text; a "token" is one UTF-16 unit. */
export class FakeBackend implements ClassifierBackend {
  ready = true;
  failure: Error | undefined;
  /** When set, classify waits for it before answering. */
  gate: Promise<void> | undefined;
  /** Texts longer than this are cut (or refused when truncate is false), like a model's positions. */
  maxTokens = Infinity;
  /** Unset by default: the API must cope with backends that report no health. */
  health?: () => BackendHealth;
  readonly calls: { texts: readonly TextInput[]; options: ClassifyOptions }[] = [];

  isReady(): boolean {
    return this.ready;
  }

  async classify(inputs: readonly TextInput[], options: ClassifyOptions): Promise<ClassificationOutcome[]> {
    this.calls.push({ texts: inputs, options });
    const texts = inputs.map(fakeKey);
    const over = texts.findIndex((t) => t.length > this.maxTokens);
    if (over >= 0 && options.truncate === false) throw new InputTooLongError(over, texts[over]!.length, this.maxTokens);
    await this.gate;
    if (this.failure) throw this.failure;
    return texts.map((t) => ({ ...outcomeFor(t), truncatedTokens: Math.max(0, t.length - this.maxTokens) }));
  }
}
