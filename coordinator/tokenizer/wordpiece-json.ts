/**
 * The tokenizer.json Hugging Face builds for a BERT directory that has only vocab.txt (transformers'
 * convert_slow_tokenizer.BertConverter, what AutoTokenizer does for such a checkpoint): BertNormalizer with
 * tokenizer_config.json's flags, BertPreTokenizer, WordPiece, and the `[CLS] $A [SEP] $B:1 [SEP]:1` template.
 * Building it lets @huggingface/tokenizers serve these directories too, so one implementation tokenizes
 * every model.
 */
import { TokenizerLoadError } from './files.js';

export interface WordPieceJsonOptions {
  /** Default true (bert-base-uncased). */
  lowercase?: boolean;
  /** Default null: strip accents exactly when lowercasing (HF's convention). */
  stripAccents?: boolean | null;
  handleChineseChars?: boolean;
  unkToken?: string;
  clsToken?: string;
  sepToken?: string;
  padToken?: string;
  maskToken?: string;
  /** Where the vocabulary came from, for error messages. */
  source?: string;
}

export function wordPieceTokenizerJson(
  vocab: ReadonlyMap<string, number>,
  options: WordPieceJsonOptions = {},
): Record<string, unknown> {
  const source = options.source ?? 'the vocabulary';
  const unk = options.unkToken ?? '[UNK]';
  const cls = options.clsToken ?? '[CLS]';
  const sep = options.sepToken ?? '[SEP]';
  const pad = options.padToken ?? '[PAD]';
  const mask = options.maskToken ?? '[MASK]';
  const roles: [string, string][] = [
    [cls, 'classification'],
    [sep, 'separator'],
    [pad, 'padding'],
    [unk, 'unknown'],
  ];
  for (const [token, role] of roles) {
    if (!vocab.has(token)) {
      throw new TokenizerLoadError(
        `${source} has no ${role} token ${JSON.stringify(token)}; a BERT vocabulary needs it`,
      );
    }
  }
  const special = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const lowercase = options.lowercase ?? true;
  // PreTrainedTokenizerFast adds the special tokens as added tokens: typed literally, they stay whole.
  const addedTokens = [pad, unk, cls, sep, mask]
    .filter((token, i, all) => vocab.has(token) && all.indexOf(token) === i)
    .map((content) => ({
      id: vocab.get(content)!,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: options.handleChineseChars ?? true,
      strip_accents: options.stripAccents ?? null,
      lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(cls, 0), sequence('A', 0), special(sep, 0)],
      pair: [special(cls, 0), sequence('A', 0), special(sep, 0), sequence('B', 1), special(sep, 1)],
      special_tokens: {
        [cls]: { id: cls, ids: [vocab.get(cls)], tokens: [cls] },
        [sep]: { id: sep, ids: [vocab.get(sep)], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  };
}
