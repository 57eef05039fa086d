/**
 * Loading the tokenizer of a Hugging Face model directory. Every directory is served by
 * @huggingface/tokenizers: tokenizer.json as it is, or vocab.txt turned into the tokenizer.json Hugging Face
 * itself would build from it (wordpiece-json.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import {
  readSpecialTokensMap,
  readTokenizerConfig,
  readTokenizerJson,
  readVocabTxt,
  TokenizerLoadError,
  type TokenizerConfigSpec,
} from './files.js';
import { HfTokenizer } from './hf-tokenizer.js';
import { checkTokenizerClass } from './tokenizer-class.js';
import type { TextTokenizer } from './types.js';
import { wordPieceTokenizerJson } from './wordpiece-json.js';

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

// transformers' tokenizers whose model_input_names leave token_type_ids out: their models take no segments
// (RoBERTa and XLM-R have a single token type; DistilBERT none), so a pair's second text keeps type 0.
const NO_TOKEN_TYPES = /^(Roberta|XLMRoberta|DistilBert|Camembert|Bart|Longformer|MPNet)Tokenizer(Fast)?$/;

/** Whether the model takes token types: model_input_names says so, else the tokenizer class or post-processor. */
function usesTokenTypes(config: TokenizerConfigSpec, json: Record<string, unknown>): boolean {
  if (config.modelInputNames) return config.modelInputNames.includes('token_type_ids');
  if (config.tokenizerClass && NO_TOKEN_TYPES.test(config.tokenizerClass)) return false;
  const post = json.post_processor as { type?: unknown } | null | undefined;
  return post?.type !== 'RobertaProcessing';
}

/**
 * The tokenizer of a model directory: tokenizer.json when present, else vocab.txt with tokenizer_config.json's
 * do_lower_case / strip_accents / tokenize_chinese_chars (lowercasing by default, as for an uncased BERT).
 * Special tokens come from tokenizer_config.json, then special_tokens_map.json.
 */
export function loadTokenizer(modelDir: string): TextTokenizer {
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) {
    throw new TokenizerLoadError(`model directory ${modelDir} does not exist or is not a directory`);
  }
  const configPath = join(modelDir, 'tokenizer_config.json');
  const config: TokenizerConfigSpec = isFile(configPath)
    ? readTokenizerConfig(configPath)
    : { specialTokens: {}, raw: {} };
  const mapPath = join(modelDir, 'special_tokens_map.json');
  const specials = { ...(isFile(mapPath) ? readSpecialTokensMap(mapPath) : {}), ...config.specialTokens };
  const common = {
    config: config.raw,
    ...(config.modelMaxLength !== undefined && { modelMaxLength: config.modelMaxLength }),
  };

  const jsonPath = join(modelDir, 'tokenizer.json');
  if (isFile(jsonPath)) {
    const json = readTokenizerJson(jsonPath);
    return new HfTokenizer(json, {
      ...common,
      source: `tokenizer.json ${jsonPath}`,
      ...(specials.pad_token !== undefined && { padToken: specials.pad_token }),
      tokenTypes: usesTokenTypes(config, json),
    });
  }

  checkTokenizerClass(modelDir); // without tokenizer.json only a WordPiece vocab.txt can be read
  const vocabPath = join(modelDir, 'vocab.txt');
  if (!isFile(vocabPath)) {
    throw new TokenizerLoadError(
      `no tokenizer in ${modelDir}: expected tokenizer.json (Hugging Face tokenizers format) or vocab.txt (BERT WordPiece vocabulary)`,
    );
  }
  const source = `vocab file ${vocabPath}`;
  const json = wordPieceTokenizerJson(readVocabTxt(vocabPath), {
    source,
    lowercase: config.doLowerCase ?? true,
    stripAccents: config.stripAccents ?? null,
    handleChineseChars: config.tokenizeChineseChars ?? true,
    ...(specials.unk_token !== undefined && { unkToken: specials.unk_token }),
    ...(specials.cls_token !== undefined && { clsToken: specials.cls_token }),
    ...(specials.sep_token !== undefined && { sepToken: specials.sep_token }),
    ...(specials.pad_token !== undefined && { padToken: specials.pad_token }),
    ...(specials.mask_token !== undefined && { maskToken: specials.mask_token }),
  });
  return new HfTokenizer(json, {
    ...common,
    source,
    padToken: specials.pad_token ?? '[PAD]',
    tokenTypes: usesTokenTypes(config, json),
  });
}
