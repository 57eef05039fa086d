/** Tokenised rows in length-sorted batches, and the figures a candidate is judged by. */
import type { TextInput, TextTokenizer } from '../tokenizer/index.js';
import { argmax } from '../reference/index.js';
import type { RowBatches } from './evaluator.js';

/** `texts` tokenised, sorted by length and cut into batches of `batchSize`, so batches carry little padding. */
export function batchRows(
  tokenizer: TextTokenizer,
  texts: readonly TextInput[],
  maxLength: number,
  batchSize = 32,
): RowBatches {
  const lengths = texts.map((t) => tokenizer.encode(t, maxLength).ids.length);
  const order = texts.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const batches: RowBatches['batches'] = [];
  const rowOf: number[][] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    const rows = order.slice(s, s + batchSize);
    batches.push(
      tokenizer.encodeBatch(
        rows.map((r) => texts[r]!),
        maxLength,
      ),
    );
    rowOf.push(rows);
  }
  return { batches, rowOf, rows: texts.length };
}

export function predictions(logits: Float32Array, numLabels: number): number[] {
  const rows = logits.length / numLabels;
  return Array.from({ length: rows }, (_, r) =>
    argmax(Array.from(logits.subarray(r * numLabels, (r + 1) * numLabels))),
  );
}

export interface RowFigures {
  /** Share of rows whose gold label the model predicts; undefined for unlabelled rows. */
  accuracy?: number;
  /** Share of rows where the model agrees with the unpruned model. */
  agreement: number;
}

export function rowFigures(preds: number[], reference: number[], labels?: number[]): RowFigures {
  const share = (hits: number) => (preds.length ? hits / preds.length : 1);
  const agreement = share(preds.filter((p, i) => p === reference[i]).length);
  if (!labels) return { agreement };
  return { accuracy: share(preds.filter((p, i) => p === labels[i]).length), agreement };
}
