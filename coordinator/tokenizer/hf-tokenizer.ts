/**
 * A tokenizer.json served by @huggingface/tokenizers (BPE, WordPiece, Unigram, with the file's normalizer,
 * pre-tokenizer and post-processor), plus what the library leaves to its caller: Hugging Face's truncation
 * (longest-first for pairs), batch padding and the attention mask.
 */
import { Tokenizer } from '@huggingface/tokenizers';

import { TokenizerLoadError } from './files.js';
import { truncatedLengths } from './truncation.js';
import { isTextPair, type EncodedBatch, type EncodedText, type TextInput, type TextTokenizer } from './types.js';

export interface HfTokenizerOptions {
  /** Where the tokenizer came from, for error messages. */
  source: string;
  /** tokenizer_config.json's contents (the library reads a few settings from it); default {}. */
  config?: Record<string, unknown>;
  /** The pad token's content; default tokenizer.json's padding.pad_token, else "[PAD]" or "<pad>" if known. */
  padToken?: string;
  /**
   * false: every token type id is 0, for models that take no segments (RoBERTa has one token type, and its
   * post-processor's 1s would index past it). Hugging Face leaves token_type_ids out for those models.
   */
  tokenTypes?: boolean;
  modelMaxLength?: number;
}

interface Pieces {
  ids: number[];
  tokens: string[];
}

// The post-processor lays special tokens out around the texts' pieces, working on token strings. It is given
// these placeholders instead of the pieces, so that every piece keeps the id the model gave it and only the
// special tokens are looked up by name.
const SLOT = '\u0000edgerelay-piece:';

export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly modelMaxLength?: number;
  private readonly tokenizer: Tokenizer;
  private readonly tokenTypes: boolean;
  private readonly specialIds = new Map<string, number>();
  /** Special tokens the post-processor adds around one text, and around a pair. */
  private readonly added: { single: number; pair: number };
  private readonly source: string;

  constructor(json: Record<string, unknown>, options: HfTokenizerOptions) {
    this.source = options.source;
    try {
      this.tokenizer = new Tokenizer(json, options.config ?? {});
    } catch (err) {
      throw new TokenizerLoadError(
        `${options.source}: @huggingface/tokenizers cannot build this tokenizer: ${(err as Error).message}`,
      );
    }
    this.tokenTypes = options.tokenTypes ?? true;
    if (options.modelMaxLength !== undefined) this.modelMaxLength = options.modelMaxLength;
    let maxId = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    if (maxId < 0) throw new TokenizerLoadError(`${options.source}: the vocabulary is empty`);
    this.vocabSize = maxId + 1;
    this.padId = this.resolvePadId(json, options.padToken);
    // Laying out empty texts checks every special token the post-processor uses is known, and counts them.
    const none: Pieces = { ids: [], tokens: [] };
    this.added = { single: this.layout(none).ids.length, pair: this.layout(none, none).ids.length };
  }

  tokenize(text: string): string[] {
    return this.pieces(text).tokens;
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  encode(input: TextInput, maxLength: number): EncodedText {
    const pair = isTextPair(input);
    const added = pair ? this.added.pair : this.added.single;
    if (!Number.isSafeInteger(maxLength) || maxLength < added) {
      throw new RangeError(
        `maxLength must be an integer >= ${added} (room for the special tokens of ${pair ? 'a pair' : 'one text'}), got ${maxLength}`,
      );
    }
    const a = this.pieces(pair ? input.text : input);
    const b = pair ? this.pieces(input.textPair) : undefined;
    const [n1, n2] = truncatedLengths(a.ids.length, b?.ids.length, maxLength - added);
    const truncatedTokens = a.ids.length - n1 + (b ? b.ids.length - n2 : 0);
    const cut = (p: Pieces, n: number): Pieces => ({ ids: p.ids.slice(0, n), tokens: p.tokens.slice(0, n) });
    return { ...this.layout(cut(a, n1), b && cut(b, n2)), truncatedTokens };
  }

  encodeBatch(inputs: readonly TextInput[], maxLength: number): EncodedBatch {
    const rows = inputs.map((input) => this.encode(input, maxLength));
    const lengths = rows.map((r) => r.ids.length);
    const seqLen = lengths.reduce((a, b) => Math.max(a, b), 0);
    const batchSize = rows.length;
    const inputIds = new BigInt64Array(batchSize * seqLen).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(batchSize * seqLen);
    const tokenTypeIds = new BigInt64Array(batchSize * seqLen);
    rows.forEach((row, r) => {
      const base = r * seqLen;
      for (let i = 0; i < row.ids.length; i++) {
        inputIds[base + i] = BigInt(row.ids[i]!);
        tokenTypeIds[base + i] = BigInt(row.typeIds[i]!);
      }
      attentionMask.fill(1n, base, base + row.ids.length);
    });
    return { batchSize, seqLen, inputIds, attentionMask, tokenTypeIds, lengths };
  }

  /** The model's pieces of one text: normalizer, pre-tokenizer and model, no special tokens. */
  private pieces(text: string): Pieces {
    const { ids, tokens } = this.tokenizer.encode(text, { add_special_tokens: false });
    return { ids, tokens };
  }

  /** The post-processor's layout of one text or a pair: special tokens, pieces and token types. */
  private layout(a: Pieces, b?: Pieces): Omit<EncodedText, 'truncatedTokens'> {
    const slots = (p: Pieces, seq: 'a' | 'b') => p.tokens.map((_, i) => `${SLOT}${seq}${i}`);
    const post = this.tokenizer.post_processor;
    let tokens: string[];
    let types: number[];
    const sizeA = a.ids.length;
    if (post) {
      const out = post.post_process(slots(a, 'a'), b ? slots(b, 'b') : null, true);
      // A lone ByteLevel post-processor hands the pair back unmerged; the library's encode then drops it.
      tokens = out.tokens_pair ? [...out.tokens, ...out.tokens_pair] : out.tokens;
      types = out.token_type_ids ?? tokens.map((_, i) => (i < sizeA ? 0 : 1));
    } else {
      tokens = [...slots(a, 'a'), ...(b ? slots(b, 'b') : [])];
      types = tokens.map((_, i) => (i < sizeA ? 0 : 1));
    }
    const ids = tokens.map((token) => {
      if (!token.startsWith(SLOT)) return this.specialId(token);
      const from = token[SLOT.length] === 'a' ? a : b!;
      return from.ids[Number(token.slice(SLOT.length + 1))]!;
    });
    const pieceTokens = tokens.map((token) => {
      if (!token.startsWith(SLOT)) return token;
      const from = token[SLOT.length] === 'a' ? a : b!;
      return from.tokens[Number(token.slice(SLOT.length + 1))]!;
    });
    return { ids, tokens: pieceTokens, typeIds: this.tokenTypes ? types : types.map(() => 0) };
  }

  private specialId(token: string): number {
    let id = this.specialIds.get(token);
    if (id === undefined) {
      id = this.tokenizer.token_to_id(token);
      if (id === undefined) {
        throw new TokenizerLoadError(
          `${this.source}: the post-processor adds ${JSON.stringify(token)}, which is not in the vocabulary`,
        );
      }
      this.specialIds.set(token, id);
    }
    return id;
  }

  private resolvePadId(json: Record<string, unknown>, padToken: string | undefined): number {
    const padding = json.padding as { pad_token?: unknown; pad_id?: unknown } | null | undefined;
    const candidates = [padToken, padding?.pad_token, '[PAD]', '<pad>'];
    for (const token of candidates) {
      if (typeof token !== 'string') continue;
      const id = this.tokenizer.token_to_id(token);
      if (id !== undefined) return id;
      if (token === padToken) {
        throw new TokenizerLoadError(`${this.source}: the pad token ${JSON.stringify(token)} is not in the vocabulary`);
      }
    }
    if (Number.isSafeInteger(padding?.pad_id)) return padding!.pad_id as number;
    // No pad token at all (GPT-2 style): padded positions are masked out, so any id does.
    return 0;
  }
}
