/** What every tokenizer gives the rest of edgerelay, whichever files it was built from. */

/** A sentence pair, classified together (NLI, paraphrase, question/answer): Hugging Face's text / text_pair. */
export interface TextPair {
  text: string;
  textPair: string;
}

/** One classification input: a text, or a sentence pair. */
export type TextInput = string | TextPair;

export function isTextPair(input: TextInput): input is TextPair {
  return typeof input !== 'string';
}

/** One input, tokenized with its special tokens, e.g. `[CLS] a [SEP] b [SEP]` or `<s> a </s></s> b </s>`. */
export interface EncodedText {
  ids: number[];
  tokens: string[];
  /** Segment of each token: 0 for the first text, 1 for the pair's second (all 0 when the model has no token types). */
  typeIds: number[];
  /** Tokens cut to fit maxLength (0 when the input fit). */
  truncatedTokens: number;
}

/** Row-major [batchSize, seqLen] int64 tensors; rows are padded with the pad id / mask 0 after `lengths[i]`. */
export interface EncodedBatch {
  batchSize: number;
  seqLen: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  /** Real (unpadded) length of each row, special tokens included. */
  lengths: number[];
}

export interface TextTokenizer {
  /** Highest id + 1, i.e. the number of rows the model's word-embedding matrix needs. */
  readonly vocabSize: number;
  /** The id rows are padded with (RoBERTa's position ids count the tokens that are not this one). */
  readonly padId: number;
  /** tokenizer_config.json's model_max_length, when it names one. */
  readonly modelMaxLength?: number;
  /** The pieces of `text`, without special tokens. */
  tokenize(text: string): string[];
  /** The id of `token`, or undefined when the tokenizer does not know it. */
  tokenToId(token: string): number | undefined;
  /**
   * `input` with its special tokens, cut to at most `maxLength` tokens the way Hugging Face truncates
   * (from the end; a pair longest-first).
   */
  encode(input: TextInput, maxLength: number): EncodedText;
  /** Encodes every input (each cut to `maxLength`) and pads them to the longest one in the batch, not to `maxLength`. */
  encodeBatch(inputs: readonly TextInput[], maxLength: number): EncodedBatch;
}
