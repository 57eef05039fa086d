import { readFileSync } from 'node:fs';
import { EdgeRelayError } from '@edgerelay/proto';
import type { TextInput } from '../tokenizer/index.js';

/** A data file cannot be read, or is not the TSV or text the command expects. */
export class DatasetError extends EdgeRelayError {
  override readonly code = 'EDGERELAY_DATASET';
}

export interface LabelledExample {
  sentence: string;
  /** A sentence pair's second text (GLUE's sentence2 / sentence / question2 column). */
  pair?: string;
  label: number;
}

/** What the model classifies for one example: its sentence, or its sentence pair. */
export function exampleInput(example: { sentence: string; pair?: string }): TextInput {
  return example.pair === undefined ? example.sentence : { text: example.sentence, textPair: example.pair };
}

/** GLUE's columns for a pair's two texts: RTE/MRPC-style, QNLI, QQP. Looked for before a lone "sentence". */
const PAIR_COLUMNS: [string, string][] = [
  ['sentence1', 'sentence2'],
  ['question', 'sentence'],
  ['question1', 'question2'],
];
/** "label", or QQP's "is_duplicate". */
const LABEL_COLUMNS = ['label', 'is_duplicate'];

/** Where a TSV header puts the text(s) and the label; undefined when it names no text column we know. */
export interface TsvLayout {
  first: number;
  second?: number;
  label?: number;
}

export function tsvLayout(header: readonly string[]): TsvLayout | undefined {
  const col = (name: string) => header.indexOf(name);
  const labelCol = LABEL_COLUMNS.map(col).find((i) => i >= 0);
  const label = labelCol === undefined ? {} : { label: labelCol };
  for (const [a, b] of PAIR_COLUMNS) if (col(a) >= 0 && col(b) >= 0) return { first: col(a), second: col(b), ...label };
  return col('sentence') >= 0 ? { first: col('sentence'), ...label } : undefined;
}

export function tsvHeader(line: string): string[] {
  return line.split('\t').map((h) => h.trim().toLowerCase());
}

const COLUMNS_HELP =
  'a "sentence" column, or a sentence pair\'s "sentence1"/"sentence2" (or "question"/"sentence", "question1"/"question2")';

/**
 * Reads a GLUE-style TSV whose header names the text column(s) and a `label` column, in any order: `sentence`
 * for single texts, or a pair's `sentence1`/`sentence2`, `question`/`sentence` (QNLI) or `question1`/`question2`
 * (QQP, whose label column is `is_duplicate`). Labels are class ids (integers).
 */
export function readLabelledTsv(file: string): LabelledExample[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DatasetError(`Cannot read ${file}: ${(err as Error).message}. Pass a GLUE-style TSV file to --data.`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = tsvHeader(lines.shift() ?? '');
  const layout = tsvLayout(header);
  if (!layout || layout.label === undefined) {
    throw new DatasetError(
      `${file}: the header must name ${COLUMNS_HELP} and a "label" column (found: ${header.join(', ') || 'nothing'}).`,
    );
  }
  return readRows(file, lines, layout, true) as LabelledExample[];
}

/** The rows of a TSV under `layout`; labelled rows need an integer label. */
export function readRows(
  file: string,
  lines: readonly string[],
  layout: TsvLayout,
  labelled: boolean,
): { sentence: string; pair?: string; label?: number }[] {
  return lines.map((line, i) => {
    const cells = line.split('\t');
    const sentence = cells[layout.first];
    const pair = layout.second === undefined ? undefined : cells[layout.second];
    const label = labelled ? Number(cells[layout.label!]) : undefined;
    if (sentence === undefined || (layout.second !== undefined && pair === undefined)) {
      throw new DatasetError(
        `${file}:${i + 2}: expected ${layout.second === undefined ? 'a sentence' : 'both texts of a pair'}, got ${JSON.stringify(line.slice(0, 80))}.`,
      );
    }
    if (labelled && !Number.isInteger(label)) {
      throw new DatasetError(
        `${file}:${i + 2}: expected an integer label (the class id), got ${JSON.stringify(cells[layout.label!] ?? '')}.`,
      );
    }
    return { sentence, ...(pair !== undefined && { pair }), ...(label !== undefined && { label }) };
  });
}
