/**
 * BertTokenizer: basic tokenization + WordPiece, with [CLS]/[SEP], truncation and batch padding,
 * producing the int64 tensors a BERT ONNX graph takes.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { forEachPreToken, type BasicTokenizerOptions } from './basic.js';
import { readTokenizerConfig, readTokenizerJson, readVocabTxt, TokenizerLoadError } from './files.js';
import { checkTokenizerClass } from './tokenizer-class.js';
import { WordPiece } from './wordpiece.js';

export interface EncodedText {
  ids: number[];
  tokens: string[];
}

/** Row-major [batchSize, seqLen] int64 tensors; rows are padded with [PAD] / mask 0 after `lengths[i]`. */
export interface EncodedBatch {
  batchSize: number;
  seqLen: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  /** Real (unpadded) length of each row, [CLS] and [SEP] included. */
  lengths: number[];
}

/** Everything but the vocabulary; every field defaults to bert-base-uncased behaviour. */
export interface BertTokenizerOptions {
  lowercase?: boolean;
  /** Default null: strip accents exactly when lowercasing (HF's convention). */
  stripAccents?: boolean | null;
  handleChineseChars?: boolean;
  cleanText?: boolean;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  continuingSubwordPrefix?: string;
  maxInputCharsPerWord?: number;
}

export interface BertTokenizerConfig extends BertTokenizerOptions {
  /** token → id */
  vocab: ReadonlyMap<string, number>;
  /** Extra token → id entries searched for the special tokens only (tokenizer.json's added_tokens). */
  specialTokenFallback?: ReadonlyMap<string, number>;
  /** Where the vocabulary came from, for error messages. */
  source?: string;
}

export class BertTokenizer {
  /** Highest id + 1, i.e. the number of rows the model's word-embedding matrix needs. */
  readonly vocabSize: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  private readonly basic: BasicTokenizerOptions;
  private readonly wordPiece: WordPiece;
  private readonly idToToken: string[];
  private readonly vocab: ReadonlyMap<string, number>;

  constructor(config: BertTokenizerConfig) {
    const source = config.source ?? 'the vocabulary';
    const lowercase = config.lowercase ?? true;
    this.basic = {
      lowercase,
      stripAccents: config.stripAccents ?? lowercase,
      handleChineseChars: config.handleChineseChars ?? true,
      cleanText: config.cleanText ?? true,
    };
    this.vocab = config.vocab;
    if (this.vocab.size === 0) throw new TokenizerLoadError(`${source} is empty`);

    const special = (token: string, role: string): number => {
      const id = this.vocab.get(token) ?? config.specialTokenFallback?.get(token);
      if (id === undefined) {
        throw new TokenizerLoadError(
          `${source} has no ${role} token ${JSON.stringify(token)}; a BERT vocabulary needs it`,
        );
      }
      return id;
    };
    this.clsId = special(config.clsToken ?? '[CLS]', 'classification');
    this.sepId = special(config.sepToken ?? '[SEP]', 'separator');
    this.padId = special(config.padToken ?? '[PAD]', 'padding');
    this.unkId = special(config.unkToken ?? '[UNK]', 'unknown');

    this.idToToken = [];
    for (const [token, id] of this.vocab) this.idToToken[id] = token;
    // Specials found only among added tokens still need a name for EncodedText.tokens.
    for (const [token, id] of config.specialTokenFallback ?? []) {
      if (this.idToToken[id] === undefined && [this.clsId, this.sepId, this.padId, this.unkId].includes(id)) {
        this.idToToken[id] = token;
      }
    }
    this.vocabSize = this.idToToken.length;

    const maxChars = config.maxInputCharsPerWord ?? 100;
    if (!Number.isSafeInteger(maxChars) || maxChars < 1) {
      throw new RangeError(`maxInputCharsPerWord must be a positive integer, got ${maxChars}`);
    }
    this.wordPiece = new WordPiece(this.vocab, {
      unkId: this.unkId,
      continuingSubwordPrefix: config.continuingSubwordPrefix ?? '##',
      maxInputCharsPerWord: maxChars,
    });
  }

  /** From a BERT vocab.txt (one token per line, id = line index). */
  static fromVocabFile(path: string, options: BertTokenizerOptions = {}): BertTokenizer {
    return new BertTokenizer({ ...options, vocab: readVocabTxt(path), source: `vocab file ${path}` });
  }

  /**
   * From a Hugging Face tokenizer.json with a WordPiece model, BertNormalizer and BertPreTokenizer,
   * honouring its normalizer flags. `overrides.lowercase` replaces the file's `lowercase` flag.
   */
  static fromTokenizerJson(path: string, overrides: { lowercase?: boolean } = {}): BertTokenizer {
    const spec = readTokenizerJson(path);
    return new BertTokenizer({
      vocab: spec.vocab,
      specialTokenFallback: spec.addedTokens,
      source: `tokenizer.json ${path}`,
      unkToken: spec.unkToken,
      continuingSubwordPrefix: spec.continuingSubwordPrefix,
      maxInputCharsPerWord: spec.maxInputCharsPerWord,
      cleanText: spec.cleanText,
      handleChineseChars: spec.handleChineseChars,
      lowercase: overrides.lowercase ?? spec.lowercase,
      stripAccents: spec.stripAccents,
    });
  }

  /** The id of `token`, or undefined when it is not in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  /** Wordpieces of `text`, without [CLS]/[SEP]. */
  tokenize(text: string): string[] {
    return this.pieceIds(text, Infinity).map((id) => this.idToToken[id]!);
  }

  /** `[CLS] wordpieces [SEP]`, wordpieces cut so the whole is at most `maxLength` long. */
  encode(text: string, maxLength: number): EncodedText {
    const ids = this.encodeIds(text, maxLength);
    return { ids, tokens: ids.map((id) => this.idToToken[id]!) };
  }

  /**
   * Encodes every text (each truncated to `maxLength`) and pads them to the longest one in the
   * batch, not to `maxLength`, so short batches make short tensors. token_type_ids are all 0.
   */
  encodeBatch(texts: string[], maxLength: number): EncodedBatch {
    const rows = texts.map((t) => this.encodeIds(t, maxLength));
    const lengths = rows.map((r) => r.length);
    const seqLen = lengths.reduce((a, b) => Math.max(a, b), 0);
    const batchSize = rows.length;
    const inputIds = new BigInt64Array(batchSize * seqLen).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(batchSize * seqLen);
    rows.forEach((row, r) => {
      const base = r * seqLen;
      for (let i = 0; i < row.length; i++) inputIds[base + i] = BigInt(row[i]!);
      attentionMask.fill(1n, base, base + row.length);
    });
    return { batchSize, seqLen, inputIds, attentionMask, tokenTypeIds: new BigInt64Array(batchSize * seqLen), lengths };
  }

  private encodeIds(text: string, maxLength: number): number[] {
    if (!Number.isSafeInteger(maxLength) || maxLength < 2) {
      throw new RangeError(`maxLength must be an integer >= 2 (room for [CLS] and [SEP]), got ${maxLength}`);
    }
    const ids = this.pieceIds(text, maxLength - 2);
    ids.unshift(this.clsId);
    ids.push(this.sepId);
    return ids;
  }

  /** Wordpiece ids of `text`, at most `limit` of them; stops tokenizing once it has enough. */
  private pieceIds(text: string, limit: number): number[] {
    const ids: number[] = [];
    if (limit <= 0) return ids;
    forEachPreToken(text, this.basic, (word) => {
      this.wordPiece.encodeWord(word, ids);
      return ids.length < limit;
    });
    if (ids.length > limit) ids.length = limit;
    return ids;
  }
}

export interface LoadTokenizerOptions {
  /** Overrides the directory's own setting (tokenizer.json normalizer, or tokenizer_config.json do_lower_case). */
  lowercase?: boolean;
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * Loads the tokenizer of a Hugging Face model directory: tokenizer.json when present, else
 * vocab.txt with tokenizer_config.json's do_lower_case / strip_accents / tokenize_chinese_chars
 * (lowercasing by default, as for an uncased BERT).
 */
export function loadTokenizer(modelDir: string, options: LoadTokenizerOptions = {}): BertTokenizer {
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) {
    throw new TokenizerLoadError(`model directory ${modelDir} does not exist or is not a directory`);
  }
  checkTokenizerClass(modelDir); // tokenizer_class picks the tokenizer; only WordPiece is implemented
  const jsonPath = join(modelDir, 'tokenizer.json');
  if (isFile(jsonPath)) return BertTokenizer.fromTokenizerJson(jsonPath, options);

  const vocabPath = join(modelDir, 'vocab.txt');
  if (!isFile(vocabPath)) {
    throw new TokenizerLoadError(
      `no tokenizer in ${modelDir}: expected tokenizer.json (Hugging Face tokenizers format) or vocab.txt (BERT WordPiece vocabulary)`,
    );
  }
  const configPath = join(modelDir, 'tokenizer_config.json');
  const config = isFile(configPath) ? readTokenizerConfig(configPath) : {};
  return BertTokenizer.fromVocabFile(vocabPath, {
    lowercase: options.lowercase ?? config.doLowerCase ?? true,
    stripAccents: config.stripAccents ?? null,
    handleChineseChars: config.tokenizeChineseChars ?? true,
  });
}
