import { readFileSync } from 'node:fs';
import { DatasetError, readLabelledTsv } from './tsv.js';

export interface TextExamples {
  texts: string[];
  /** Gold labels when the file is a labelled TSV; absent for plain text (agreement then stands in for accuracy). */
  labels?: number[];
}

/**
 * A GLUE-style TSV (header naming "sentence" and "label") gives labelled rows; any other file is read
 * as unlabelled text, one example per non-empty line.
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
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  const header = firstLine.split('\t').map((h) => h.trim().toLowerCase());
  if (header.includes('sentence') && header.includes('label')) {
    const rows = readLabelledTsv(file);
    return { texts: rows.map((r) => r.sentence), labels: rows.map((r) => r.label) };
  }
  const texts = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (texts.length === 0)
    throw new DatasetError(
      `${file} holds no examples; put one text per line, or a TSV with "sentence" and "label" columns.`,
    );
  return { texts };
}
