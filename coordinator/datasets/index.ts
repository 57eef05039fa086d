/** Reading the example files commands take with --data: labelled GLUE-style TSV, or plain text. */
export { DatasetError, readLabelledTsv, type LabelledExample } from './tsv.js';
export { readTextExamples, type TextExamples } from './text-examples.js';
