import { readFileSync } from 'node:fs';
import { EdgeRelayError } from '@edgerelay/proto';

/** A data file cannot be read, or is not the TSV or text the command expects. */
export class DatasetError extends EdgeRelayError {
  override readonly code = 'EDGERELAY_DATASET';
}

export interface LabelledExample {
  sentence: string;
  label: number;
}

/** Reads a GLUE-style TSV with a header holding `sentence` and `label` columns, in either order. */
export function readLabelledTsv(file: string): LabelledExample[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DatasetError(`Cannot read ${file}: ${(err as Error).message}. Pass a GLUE-style TSV file to --data.`);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = (lines.shift() ?? '').split('\t').map((h) => h.trim().toLowerCase());
  const sentenceCol = header.indexOf('sentence');
  const labelCol = header.indexOf('label');
  if (sentenceCol < 0 || labelCol < 0) {
    throw new DatasetError(
      `${file}: the header must name a "sentence" and a "label" column (found: ${header.join(', ') || 'nothing'}).`,
    );
  }
  return lines.map((line, i) => {
    const cells = line.split('\t');
    const label = Number(cells[labelCol]);
    if (cells[sentenceCol] === undefined || !Number.isInteger(label)) {
      throw new DatasetError(
        `${file}:${i + 2}: expected a sentence and an integer label, got ${JSON.stringify(line.slice(0, 80))}.`,
      );
    }
    return { sentence: cells[sentenceCol]!, label };
  });
}
