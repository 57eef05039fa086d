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

const MODEL_TYPES = ['WordPiece', 'BPE', 'Unigram'];

/**
 * Reads a Hugging Face tokenizer.json for @huggingface/tokenizers, checking only what would otherwise fail
 * obscurely inside the library: a model object of a type it implements. The library does the rest.
 */
export function readTokenizerJson(path: string): Record<string, unknown> {
  const json = readJson(path, 'tokenizer.json');
  const where = `tokenizer.json ${path}`;
  if (!isObject(json) || !isObject(json.model)) throw new TokenizerLoadError(`${where} has no "model" object`);
  const type = json.model.type;
  if (type !== undefined && !MODEL_TYPES.includes(type as string)) {
    throw new TokenizerLoadError(
      `${where}: model.type is ${JSON.stringify(type)}; supported models are ${MODEL_TYPES.join(', ')}`,
    );
  }
  if (!isObject(json.model.vocab) && !Array.isArray(json.model.vocab)) {
    throw new TokenizerLoadError(`${where}: model.vocab is missing`);
  }
  return json;
}

/** A special token as tokenizer_config.json / special_tokens_map.json write it: a string or {"content": …}. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

const SPECIAL_KEYS = ['unk_token', 'cls_token', 'sep_token', 'pad_token', 'mask_token', 'bos_token', 'eos_token'];

/** The settings we honour from tokenizer_config.json (all optional), plus the raw object for the library. */
export interface TokenizerConfigSpec {
  doLowerCase?: boolean;
  stripAccents?: boolean | null;
  tokenizeChineseChars?: boolean;
  tokenizerClass?: string;
  /** The tensors the model takes; without "token_type_ids" the model ignores segments (RoBERTa, DistilBERT). */
  modelInputNames?: string[];
  modelMaxLength?: number;
  /** unk_token, cls_token, sep_token, pad_token, mask_token, bos_token, eos_token → content. */
  specialTokens: Record<string, string>;
  raw: Record<string, unknown>;
}

export function readTokenizerConfig(path: string): TokenizerConfigSpec {
  const json = readJson(path, 'tokenizer_config.json');
  const where = `tokenizer_config.json ${path}`;
  if (!isObject(json)) throw new TokenizerLoadError(`${where} must contain a JSON object`);
  const spec: TokenizerConfigSpec = { specialTokens: specialTokensOf(json), raw: json };
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
  if (typeof json.tokenizer_class === 'string') spec.tokenizerClass = json.tokenizer_class;
  if (Array.isArray(json.model_input_names) && json.model_input_names.every((n) => typeof n === 'string')) {
    spec.modelInputNames = json.model_input_names as string[];
  }
  // transformers writes a huge sentinel (1e30) when the tokenizer has no limit of its own.
  const max = json.model_max_length;
  if (Number.isSafeInteger(max) && (max as number) > 0) spec.modelMaxLength = max as number;
  return spec;
}

/** special_tokens_map.json: the special tokens when tokenizer_config.json does not name them. */
export function readSpecialTokensMap(path: string): Record<string, string> {
  const json = readJson(path, 'special_tokens_map.json');
  if (!isObject(json)) throw new TokenizerLoadError(`special_tokens_map.json ${path} must contain a JSON object`);
  return specialTokensOf(json);
}

function specialTokensOf(json: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of SPECIAL_KEYS) {
    const content = tokenContent(json[key]);
    if (content !== undefined) out[key] = content;
  }
  return out;
}
