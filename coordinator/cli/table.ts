/** Borderless text tables for the CLI's human output, laid out by cli-table3. */
import Table from 'cli-table3';

export type Align = 'left' | 'right';

/** No rules or corners: columns are only separated by two spaces. */
const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/**
 * `rows` (the first is the header) with each column as wide as its widest cell. Trailing blanks are
 * cut so a left-aligned last column does not leave padding at line ends.
 */
export function textTable(rows: string[][], align: readonly Align[]): string {
  const table = new Table({
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    colAligns: [...align],
  });
  table.push(...rows);
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}
