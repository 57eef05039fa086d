import { readFileSync } from 'node:fs';
import type { TextInput } from '../tokenizer/index.js';
import { DatasetError, exampleInput, readRows, tsvHeader, tsvLayout } from './tsv.js';

export interface TextExamples {
  /** Texts, or sentence pairs when the TSV has two text columns. */
  texts: TextInput[];
  /** Gold labels when the file is a labelled TSV; absent for plain text (agreement then stands in for accuracy). */
  labels?: number[];
}

/**
 * A GLUE-style TSV (header naming "sentence", or a pair's "sentence1"/"sentence2", "question"/"sentence" or
 * "question1"/"question2", with or without "label") gives its rows; any other file is read as unlabelled
 * text, one example per non-empty line.
 */
export function readTextExamples(file: string): TextExamples {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DatasetError(
      `Cannot read ${file}: ${(err as Error).message}. Pass a labelled TSV or a text file (one example per line) to --data.`,
    );
  }
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const layout = tsvLayout(tsvHeader(lines[0] ?? ''));
  // A lone "sentence" column without labels is not taken for a header: such a file may just be text.
  if (layout && (layout.label !== undefined || layout.second !== undefined)) {
    const rows = readRows(file, lines.slice(1), layout, layout.label !== undefined);
    return {
      texts: rows.map(exampleInput),
      ...(layout.label !== undefined && { labels: rows.map((r) => r.label!) }),
    };
  }
  const texts = lines.map((l) => l.trim()).filter((l) => l.length > 0);
  if (texts.length === 0)
    throw new DatasetError(
      `${file} holds no examples; put one text per line, or a TSV with "sentence" (or a pair's two columns) and "label".`,
    );
  return { texts };
}
