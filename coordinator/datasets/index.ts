/** Reading the example files commands take with --data: labelled GLUE-style TSV (texts or sentence pairs), or plain text. */
export { DatasetError, exampleInput, readLabelledTsv, type LabelledExample } from './tsv.js';
export { readTextExamples, type TextExamples } from './text-examples.js';
