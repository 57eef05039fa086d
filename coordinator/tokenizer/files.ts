/**
 * Reading tokenizer files from a Hugging Face model directory: vocab.txt, tokenizer.json and
 * tokenizer_config.json. Only parsing and validation live here; building the tokenizer does not.
 */
import { readFileSync } from 'node:fs';

import { EdgeRelayError } from '@edgerelay/proto';

/** The tokenizer files of a model directory; copies of a model carry them over unchanged. */
export const TOKENIZER_FILES = [
  'vocab.txt',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

/** A tokenizer file is missing, unreadable, malformed, or describes a tokenizer we do not support. */
export class TokenizerLoadError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_TOKENIZER_LOAD';
}

/** What tokenizer.json says, in BertTokenizerConfig terms. */
export interface TokenizerJsonSpec {
  vocab: Map<string, number>;
  /** Tokens from `added_tokens`, consulted for special tokens the model vocab lacks. */
  addedTokens: Map<string, number>;
  unkToken: string;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
  cleanText: boolean;
  handleChineseChars: boolean;
  lowercase: boolean;
  /** null: strip accents exactly when lowercasing (HF's convention). */
  stripAccents: boolean | null;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new TokenizerLoadError(`cannot read ${what} ${path}: ${reason}`);
  }
}

function readJson(path: string, what: string): unknown {
  const text = readText(path, what);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TokenizerLoadError(`${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** vocab.txt: one token per line, id = line index (later duplicates win, as in HF). */
export function readVocabTxt(path: string): Map<string, number> {
  // A leading BOM would otherwise become part of token 0 ([PAD]).
  const text = readText(path, 'vocab file').replace(/^\uFEFF/, '');
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // final newline, not a token
  if (lines.length === 0) throw new TokenizerLoadError(`vocab file ${path} is empty`);
  const vocab = new Map<string, number>();
  lines.forEach((line, id) => vocab.set(line.endsWith('\r') ? line.slice(0, -1) : line, id));
  return vocab;
}

function optionalBool(obj: Record<string, unknown>, key: string, fallback: boolean, where: string): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean')
    throw new TokenizerLoadError(`${where}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses a Hugging Face tokenizer.json; anything that would not tokenize like BERT is rejected. */
export function readTokenizerJson(path: string): TokenizerJsonSpec {
  const json = readJson(path, 'tokenizer.json');
  const where = `tokenizer.json ${path}`;
  if (!isObject(json) || !isObject(json.model)) throw new TokenizerLoadError(`${where} has no "model" object`);
  const model = json.model;
  if (model.type !== 'WordPiece') {
    throw new TokenizerLoadError(
      `${where}: model.type is ${JSON.stringify(model.type)}; only WordPiece (BERT) is supported`,
    );
  }
  if (!isObject(model.vocab)) throw new TokenizerLoadError(`${where}: model.vocab must be an object of token → id`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(model.vocab)) {
    if (!Number.isSafeInteger(id) || (id as number) < 0) {
      throw new TokenizerLoadError(`${where}: model.vocab[${JSON.stringify(token)}] is not a non-negative integer id`);
    }
    vocab.set(token, id as number);
  }

  const addedTokens = new Map<string, number>();
  if (Array.isArray(json.added_tokens)) {
    for (const t of json.added_tokens) {
      if (isObject(t) && typeof t.content === 'string' && Number.isSafeInteger(t.id))
        addedTokens.set(t.content, t.id as number);
    }
  }

  // null normalizer: HF does no normalization at all, so neither do we.
  let normalizer: Record<string, unknown> = {
    clean_text: false,
    handle_chinese_chars: false,
    lowercase: false,
    strip_accents: false,
  };
  if (json.normalizer !== undefined && json.normalizer !== null) {
    if (!isObject(json.normalizer) || json.normalizer.type !== 'BertNormalizer') {
      const type = isObject(json.normalizer) ? json.normalizer.type : json.normalizer;
      throw new TokenizerLoadError(
        `${where}: normalizer type ${JSON.stringify(type)} is not supported; expected BertNormalizer`,
      );
    }
    normalizer = json.normalizer;
  }
  const pre = json.pre_tokenizer;
  if (!isObject(pre) || pre.type !== 'BertPreTokenizer') {
    const type = isObject(pre) ? pre.type : pre;
    throw new TokenizerLoadError(
      `${where}: pre_tokenizer type ${JSON.stringify(type)} is not supported; expected BertPreTokenizer`,
    );
  }

  const unk = model.unk_token ?? '[UNK]';
  const prefix = model.continuing_subword_prefix ?? '##';
  const maxChars = model.max_input_chars_per_word ?? 100;
  if (typeof unk !== 'string') throw new TokenizerLoadError(`${where}: model.unk_token must be a string`);
  if (typeof prefix !== 'string')
    throw new TokenizerLoadError(`${where}: model.continuing_subword_prefix must be a string`);
  if (!Number.isSafeInteger(maxChars) || (maxChars as number) < 1) {
    throw new TokenizerLoadError(`${where}: model.max_input_chars_per_word must be a positive integer`);
  }
  const nwhere = `${where} normalizer`;
  const strip = normalizer.strip_accents;
  if (strip !== undefined && strip !== null && typeof strip !== 'boolean') {
    throw new TokenizerLoadError(`${nwhere}: "strip_accents" must be true, false or null`);
  }
  return {
    vocab,
    addedTokens,
    unkToken: unk,
    continuingSubwordPrefix: prefix,
    maxInputCharsPerWord: maxChars as number,
    // Defaults are those of HF's BertNormalizer when a field is absent.
    cleanText: optionalBool(normalizer, 'clean_text', true, nwhere),
    handleChineseChars: optionalBool(normalizer, 'handle_chinese_chars', true, nwhere),
    lowercase: optionalBool(normalizer, 'lowercase', true, nwhere),
    stripAccents: strip === undefined ? null : (strip as boolean | null),
  };
}

/** The BertTokenizer settings we honour from tokenizer_config.json (all optional). */
export interface TokenizerConfigSpec {
  doLowerCase?: boolean;
  stripAccents?: boolean | null;
  tokenizeChineseChars?: boolean;
}

export function readTokenizerConfig(path: string): TokenizerConfigSpec {
  const json = readJson(path, 'tokenizer_config.json');
  const where = `tokenizer_config.json ${path}`;
  if (!isObject(json)) throw new TokenizerLoadError(`${where} must contain a JSON object`);
  const spec: TokenizerConfigSpec = {};
  if (json.do_lower_case !== undefined) spec.doLowerCase = optionalBool(json, 'do_lower_case', true, where);
  if (json.tokenize_chinese_chars !== undefined) {
    spec.tokenizeChineseChars = optionalBool(json, 'tokenize_chinese_chars', true, where);
  }
  if (json.strip_accents !== undefined) {
    if (json.strip_accents !== null && typeof json.strip_accents !== 'boolean') {
      throw new TokenizerLoadError(`${where}: "strip_accents" must be true, false or null`);
    }
    spec.stripAccents = json.strip_accents;
  }
  return spec;
}
