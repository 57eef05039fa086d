/** Tokenizers, all served by @huggingface/tokenizers: public surface. */
export {
  isTextPair,
  type EncodedBatch,
  type EncodedText,
  type TextInput,
  type TextPair,
  type TextTokenizer,
} from './types.js';
export { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.js';
export { loadTokenizer } from './load.js';
export { wordPieceTokenizerJson, type WordPieceJsonOptions } from './wordpiece-json.js';
export { truncatedLengths } from './truncation.js';
export { TOKENIZER_FILES, TokenizerLoadError } from './files.js';
