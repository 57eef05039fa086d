/** BERT WordPiece tokenizer: public surface. */
export {
  BertTokenizer,
  loadTokenizer,
  type BertTokenizerConfig,
  type BertTokenizerOptions,
  type EncodedBatch,
  type EncodedText,
  type LoadTokenizerOptions,
} from './bert-tokenizer.js';
export { TOKENIZER_FILES, TokenizerLoadError } from './files.js';
export { basicTokenize, type BasicTokenizerOptions } from './basic.js';
