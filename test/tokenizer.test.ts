import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Tokenizer } from '@huggingface/tokenizers';

import { EdgeRelayError } from '../proto/errors.js';
import {
  HfTokenizer,
  loadTokenizer,
  TokenizerLoadError,
  truncatedLengths,
  wordPieceTokenizerJson,
  type TextTokenizer,
} from '../coordinator/tokenizer/index.js';
import { robertaTokenizerJson, unigramTokenizerJson } from './helpers/tiny-tokenizers.js';

const FIXTURE = fileURLToPath(new URL('../../shared/fixtures/sst2-bert-6L-256H/', import.meta.url));
const VOCAB_TXT = join(FIXTURE, 'vocab.txt');
// Large enough that nothing in these tests is truncated unless a test asks for it.
const NO_TRUNCATION = 100_000;

const vocabLines = readFileSync(VOCAB_TXT, 'utf8').split('\n');
if (vocabLines.at(-1) === '') vocabLines.pop();

const devSentences = readFileSync(join(FIXTURE, 'dev.tsv'), 'utf8')
  .split('\n')
  .slice(1) // header: sentence\tlabel
  .filter((line) => line.length > 0)
  .map((line) => line.split('\t')[0]!);

interface NormalizerFlags {
  lowercase?: boolean;
  strip_accents?: boolean | null;
  handle_chinese_chars?: boolean;
  clean_text?: boolean;
}

/**
 * A Hugging Face tokenizer.json for BERT built from the fixture's vocab.txt, as transformers' BertConverter
 * writes it (the reference the vocab.txt path must reproduce).
 */
function bertTokenizerJson(flags: NormalizerFlags = {}): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  vocabLines.forEach((token, id) => (vocab[token] = id));
  const special = (token: string, typeId = 0) => ({ SpecialToken: { id: token, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
      ...flags,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
      pair: [
        special('[CLS]'),
        { Sequence: { id: 'A', type_id: 0 } },
        special('[SEP]'),
        { Sequence: { id: 'B', type_id: 1 } },
        special('[SEP]', 1),
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

function hfTokenizer(flags: NormalizerFlags = {}): Tokenizer {
  const lowercase = flags.lowercase ?? true;
  return new Tokenizer(bertTokenizerJson(flags), { do_lower_case: lowercase, tokenizer_class: 'BertTokenizer' });
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgerelay-tokenizer-'));
  tempDirs.push(dir);
  return dir;
}

/** A model directory holding these files (name → JSON value, or a path to copy). */
function modelDir(files: Record<string, unknown>): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === 'string' && content.startsWith('/')) copyFileSync(content, join(dir, name));
    else writeFileSync(join(dir, name), JSON.stringify(content));
  }
  return dir;
}

/** Texts (or pairs) whose ids or token types differ from the reference's; deepStrictEqual to [] shows them all. */
function mismatches(ours: TextTokenizer, reference: Tokenizer, texts: string[], pairs = false) {
  return texts
    .map((text, i) => {
      const pair = pairs ? texts[(i + 1) % texts.length]! : undefined;
      const mine = ours.encode(pair === undefined ? text : { text, textPair: pair }, NO_TRUNCATION);
      const ref = reference.encode(text, { text_pair: pair ?? null, return_token_type_ids: true });
      return {
        text,
        pair,
        ours: [mine.ids, mine.typeIds],
        reference: [ref.ids, ref.token_type_ids ?? ref.ids.map(() => 0)],
      };
    })
    .filter((r) => JSON.stringify(r.ours) !== JSON.stringify(r.reference));
}

const HARD_STRINGS = [
  'Café naïve résumé',
  'CAFÉ NAÏVE RÉSUMÉ e\u0301 combining acute',
  '我爱北京 天安门',
  'こんにちは世界 and 안녕하세요',
  'wait...what?!',
  '«quoted» — dash… ¿qué? ¡sí! “curly” ‘quotes’ 【brackets】',
  "don't stop-believin' (2003) $5.99 #1 @user 100% a_b c~d {e} [f] <g> |h| \\i\\ ^j^ `k`",
  'control\u0000chars\u0007 here zero\u200bwidth\u200djoiner \ufffd replaced \u0085next-line \u007fdel \u200eLTR\ufeffbom',
  'private\ue000use and a lone \ud800 surrogate',
  'a'.repeat(120) + ' after the long word',
  'b'.repeat(100) + ' ' + 'c'.repeat(101),
  'tabs\tand\nnewlines\r\nand  multiple   spaces\vvertical\fformfeed',
  'non\u00a0breaking\u3000ideographic\u2003em\u2028line\u2029para',
  'emoji 😀 👍🏽 ❤️ family 👨‍👩‍👧 flags 🇫🇷 keycap 1️⃣',
  'HELLO World, MiXeD CaSe! unaffable UNAFFABLE',
  'ΕΛΛΗΝΙΚΑ ΟΔΟΣ Ελληνικά',
  'Straße İstanbul Ǆemal ﬁnance Ⅻ ½ ²',
  'مرحبا بالعالم שלום नमस्ते दुनिया',
  'Greek varia \u1fef and question mark \u037e',
  '3.14159 1,000,000 2024-01-01 12:30pm',
  '',
  '   \t\n  ',
  '!!!???...,,,',
  'compatibility ideographs \uf900\ufa0e mixed漢字text',
];

after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('WordPiece from vocab.txt (the fixture), served by @huggingface/tokenizers', () => {
  const tokenizer = loadTokenizer(FIXTURE);
  const reference = hfTokenizer();

  it('matches Hugging Face tokenizers on every dev.tsv sentence, alone and as pairs', () => {
    // Guard against a vacuous pass: the fixture must really be there and really exercise WordPiece.
    assert.equal(devSentences.length, 436);
    assert.ok(devSentences.some((s) => tokenizer.tokenize(s).some((t) => t.startsWith('##'))));
    assert.deepStrictEqual(mismatches(tokenizer, reference, devSentences), []);
    assert.deepStrictEqual(mismatches(tokenizer, reference, devSentences, true), []);
  });

  it('matches Hugging Face tokenizers on hard hand-made strings', () => {
    assert.deepStrictEqual(mismatches(tokenizer, reference, HARD_STRINGS), []);
  });

  it('produces the expected wordpieces for accents, CJK, punctuation and long words', () => {
    assert.deepStrictEqual(tokenizer.tokenize('Café naïve résumé'), ['cafe', 'naive', 'resume']);
    // Each ideograph is its own word, so one missing from the vocab (爱) does not take its neighbours down.
    assert.deepStrictEqual(tokenizer.tokenize('我爱北京'), ['我', '[UNK]', '北', '京']);
    assert.deepStrictEqual(tokenizer.tokenize('wait...what?!'), ['wait', '.', '.', '.', 'what', '?', '!']);
    assert.deepStrictEqual(tokenizer.tokenize('unaffable'), ['una', '##ffa', '##ble']);
    assert.deepStrictEqual(tokenizer.tokenize('con\u0000trol\u200bled'), ['controlled']);
    assert.deepStrictEqual(tokenizer.tokenize(`${'a'.repeat(101)} ok`), ['[UNK]', 'ok']);
    assert.deepStrictEqual(tokenizer.tokenize('😀'), ['[UNK]']);
    assert.deepStrictEqual(tokenizer.tokenize(''), []);
    // Special tokens typed in the text stay whole, as with Hugging Face's fast BertTokenizer.
    assert.deepStrictEqual(tokenizer.tokenize('a [MASK] b'), ['a', '[MASK]', 'b']);
  });

  it("honours tokenizer_config.json's do_lower_case, strip_accents and tokenize_chinese_chars", () => {
    const variants: [Record<string, unknown>, NormalizerFlags][] = [
      [{ do_lower_case: false }, { lowercase: false }],
      [
        { do_lower_case: true, strip_accents: false },
        { lowercase: true, strip_accents: false },
      ],
      [
        { do_lower_case: false, strip_accents: true },
        { lowercase: false, strip_accents: true },
      ],
      [{ tokenize_chinese_chars: false }, { handle_chinese_chars: false }],
    ];
    for (const [config, flags] of variants) {
      const ours = loadTokenizer(modelDir({ 'vocab.txt': VOCAB_TXT, 'tokenizer_config.json': config }));
      const texts = [...HARD_STRINGS, ...devSentences.slice(0, 50)];
      assert.deepStrictEqual(mismatches(ours, hfTokenizer(flags), texts), [], JSON.stringify(config));
    }
    const noConfig = loadTokenizer(modelDir({ 'vocab.txt': VOCAB_TXT }));
    assert.deepStrictEqual(noConfig.tokenize('Hello'), ['hello'], 'lowercases by default, as for an uncased BERT');
  });

  it('exposes the pad id and vocabulary size of bert-base-uncased', () => {
    assert.deepStrictEqual(
      [tokenizer.padId, tokenizer.tokenToId('[UNK]'), tokenizer.tokenToId('[CLS]'), tokenizer.vocabSize],
      [0, 100, 101, 30522],
    );
    assert.equal(tokenizer.modelMaxLength, 128);
  });

  it('encodes a pair as [CLS] a [SEP] b [SEP] with token types 0 then 1 (bert-base-uncased ids, checked by hand)', () => {
    const e = tokenizer.encode({ text: 'The cat sat.', textPair: 'A dog!' }, 64);
    assert.deepStrictEqual(e.tokens, ['[CLS]', 'the', 'cat', 'sat', '.', '[SEP]', 'a', 'dog', '!', '[SEP]']);
    assert.deepStrictEqual(e.ids, [101, 1996, 4937, 2938, 1012, 102, 1037, 3899, 999, 102]);
    assert.deepStrictEqual(e.typeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert.equal(e.truncatedTokens, 0);
  });

  it('truncates one text to exactly maxLength, keeping [CLS] first and [SEP] last', () => {
    const text = devSentences.find((s) => tokenizer.tokenize(s).length > 20)!;
    const full = tokenizer.encode(text, NO_TRUNCATION);
    const cut = tokenizer.encode(text, 10);
    assert.equal(cut.ids.length, 10);
    assert.deepStrictEqual(cut.ids, [101, ...full.ids.slice(1, 9), 102]);
    assert.deepStrictEqual(cut.tokens, ['[CLS]', ...full.tokens.slice(1, 9), '[SEP]']);
    assert.equal(cut.truncatedTokens, full.ids.length - 10);
    assert.deepStrictEqual(tokenizer.encode(text, 2).ids, [101, 102]);
    // A word whose pieces straddle the limit is cut mid-word, as HF truncation does.
    assert.deepStrictEqual(tokenizer.encode('unaffable', 3).tokens, ['[CLS]', 'una', '[SEP]']);
    assert.throws(() => tokenizer.encode(text, 1), RangeError);
    assert.throws(() => tokenizer.encode({ text, textPair: text }, 2), /room for the special tokens of a pair/);
  });

  it('truncates a pair longest-first, as Hugging Face does', () => {
    const a = 'one two three four five six seven eight'; // 8 pieces
    const b = 'alpha beta'; // 2 pieces
    const e = tokenizer.encode({ text: a, textPair: b }, 9); // budget 6: the longer keeps 4, the shorter all 2
    assert.deepStrictEqual(e.tokens, ['[CLS]', 'one', 'two', 'three', 'four', '[SEP]', 'alpha', 'beta', '[SEP]']);
    assert.deepStrictEqual(e.typeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1]);
    assert.equal(e.truncatedTokens, 4);
    const both = tokenizer.encode({ text: a, textPair: a }, 10); // budget 7 over 8 + 8: 3 and 4
    assert.deepStrictEqual(both.tokens, [
      '[CLS]',
      'one',
      'two',
      'three',
      '[SEP]',
      'one',
      'two',
      'three',
      'four',
      '[SEP]',
    ]);
  });

  it('pads a batch of texts and pairs to its longest row with [PAD], mask 0 and token type 0', () => {
    const inputs = ['hello world', { text: 'a much longer sentence', textPair: 'with a second part' }, ''];
    const rows = inputs.map((t) => tokenizer.encode(t, 64));
    const batch = tokenizer.encodeBatch(inputs, 64);
    const seqLen = Math.max(...rows.map((r) => r.ids.length));
    assert.equal(batch.batchSize, 3);
    assert.equal(batch.seqLen, seqLen);
    assert.ok(seqLen < 64, 'padded to the longest row, not to maxLength');
    assert.deepStrictEqual(
      batch.lengths,
      rows.map((r) => r.ids.length),
    );
    const pad = (r: number[], v: number) => [...r, ...Array(seqLen - r.length).fill(v)];
    assert.deepStrictEqual([...batch.inputIds], rows.flatMap((r) => pad(r.ids, tokenizer.padId)).map(BigInt));
    assert.deepStrictEqual([...batch.tokenTypeIds], rows.flatMap((r) => pad(r.typeIds, 0)).map(BigInt));
    assert.deepStrictEqual(
      [...batch.attentionMask],
      rows
        .flatMap((r) =>
          pad(
            r.ids.map(() => 1),
            0,
          ),
        )
        .map(BigInt),
    );
    assert.ok([...batch.tokenTypeIds].includes(1n), 'the pair row carries its segments');

    const long = tokenizer.encodeBatch(['short', devSentences.find((s) => tokenizer.tokenize(s).length > 20)!], 16);
    assert.equal(long.seqLen, 16);
    assert.deepStrictEqual(long.lengths, [3, 16]);
    assert.equal(long.inputIds[31], 102n);
  });
});

describe('truncatedLengths (Hugging Face longest-first)', () => {
  it('keeps what tokenizers keeps for every pair of lengths in its own test table (budget 7)', () => {
    // tokenizers/src/utils/truncation.rs, truncate_encodings_longest_first: lengths 0, 2, 4, 8.
    const table: [number, number, number, number][] = [
      [0, 0, 0, 0],
      [0, 2, 0, 2],
      [0, 4, 0, 4],
      [0, 8, 0, 7],
      [2, 0, 2, 0],
      [2, 2, 2, 2],
      [2, 4, 2, 4],
      [2, 8, 2, 5],
      [4, 0, 4, 0],
      [4, 2, 4, 2],
      [4, 4, 3, 4],
      [4, 8, 3, 4],
      [8, 0, 7, 0],
      [8, 2, 5, 2],
      [8, 4, 4, 3],
      [8, 8, 3, 4],
    ];
    for (const [n1, n2, k1, k2] of table) assert.deepStrictEqual(truncatedLengths(n1, n2, 7), [k1, k2], `${n1}, ${n2}`);
    assert.deepStrictEqual(truncatedLengths(10, undefined, 7), [7, 0]);
  });
});

describe('tokenizer.json through @huggingface/tokenizers', () => {
  it('a byte-level BPE (RoBERTa-style) tokenizer.json tokenizes dev.tsv exactly as the library does', () => {
    const json = robertaTokenizerJson(devSentences);
    const ours = loadTokenizer(modelDir({ 'tokenizer.json': json }));
    const reference = new Tokenizer(json, {});
    // Not vacuous: the learnt merges make multi-byte pieces.
    assert.ok(devSentences.slice(0, 20).some((s) => ours.tokenize(s).some((t) => t.length > 3)));
    assert.deepStrictEqual(mismatches(ours, reference, [...devSentences, ...HARD_STRINGS]), []);
    // Pairs: the same ids; token types are 0 for RoBERTa (one token type), see below.
    const pairMismatches = mismatches(ours, reference, devSentences, true).filter(
      (m) => JSON.stringify(m.ours[0]) !== JSON.stringify(m.reference[0]),
    );
    assert.deepStrictEqual(pairMismatches, []);
  });

  it('encodes a RoBERTa pair as <s> a </s></s> b </s>, every token type 0 (checked by hand)', () => {
    const json = robertaTokenizerJson(['the cat the cat the cat']);
    const ours = loadTokenizer(modelDir({ 'tokenizer.json': json }));
    const vocab = (json.model as { vocab: Record<string, number> }).vocab;
    const e = ours.encode({ text: 'the cat', textPair: 'cat' }, 64);
    assert.deepStrictEqual(e.tokens, ['<s>', 'the', 'Ġcat', '</s>', '</s>', 'cat', '</s>']);
    assert.deepStrictEqual(e.ids, [0, vocab['the'], vocab['Ġcat'], 2, 2, vocab['cat'], 2]);
    assert.deepStrictEqual(e.typeIds, [0, 0, 0, 0, 0, 0, 0]);
    assert.equal(ours.padId, 1);
    // Longest-first truncation leaves room for RoBERTa's four special tokens.
    const cut = ours.encode({ text: 'the cat the cat', textPair: 'cat' }, 6);
    assert.deepStrictEqual(cut.tokens, ['<s>', 'the', '</s>', '</s>', 'cat', '</s>']);
    assert.equal(cut.truncatedTokens, 3);
    // With model_input_names naming token_type_ids, the post-processor's segments are kept.
    const typed = loadTokenizer(
      modelDir({
        'tokenizer.json': json,
        'tokenizer_config.json': { model_input_names: ['input_ids', 'token_type_ids'] },
      }),
    );
    assert.deepStrictEqual(typed.encode({ text: 'the cat', textPair: 'cat' }, 64).typeIds, [0, 0, 0, 0, 1, 1, 1]);
  });

  it('a WordPiece tokenizer.json built from the fixture files tokenizes dev.tsv as the library does, alone and in pairs', () => {
    const json = bertTokenizerJson();
    const ours = loadTokenizer(modelDir({ 'tokenizer.json': json }));
    const reference = new Tokenizer(json, {});
    assert.deepStrictEqual(mismatches(ours, reference, devSentences), []);
    assert.deepStrictEqual(mismatches(ours, reference, devSentences, true), []);
    const fromVocab = loadTokenizer(FIXTURE);
    for (const text of devSentences) assert.deepStrictEqual(ours.encode(text, 64), fromVocab.encode(text, 64));
  });

  it('a Unigram tokenizer.json (AlbertTokenizer class) tokenizes dev.tsv as the library does', () => {
    const json = unigramTokenizerJson(devSentences);
    const dir = modelDir({ 'tokenizer.json': json, 'tokenizer_config.json': { tokenizer_class: 'AlbertTokenizer' } });
    const ours = loadTokenizer(dir);
    const reference = new Tokenizer(json, { tokenizer_class: 'AlbertTokenizer' });
    assert.ok(ours.tokenize(devSentences[0]!).length > 1);
    assert.deepStrictEqual(mismatches(ours, reference, devSentences), []);
    assert.deepStrictEqual(mismatches(ours, reference, devSentences.slice(0, 100), true), []);
  });

  it('prefers tokenizer.json over vocab.txt', () => {
    // tokenizer.json says cased; vocab.txt alone would lowercase.
    const dir = modelDir({ 'vocab.txt': VOCAB_TXT, 'tokenizer.json': bertTokenizerJson({ lowercase: false }) });
    assert.deepStrictEqual(loadTokenizer(dir).tokenize('Hello'), ['[UNK]']);
  });

  it('builds from an in-memory vocabulary the same tokenizer as from vocab.txt', () => {
    const vocab = new Map(vocabLines.map((t, i) => [t, i]));
    const inMemory = new HfTokenizer(wordPieceTokenizerJson(vocab), { source: 'test' });
    const fromFile = loadTokenizer(FIXTURE);
    for (const text of devSentences.slice(0, 50))
      assert.deepStrictEqual(inMemory.encode(text, 64), fromFile.encode(text, 64));
  });
});

describe('loadTokenizer errors', () => {
  it('names the directory and the expected files when neither tokenizer file exists', () => {
    const dir = tempDir();
    assert.throws(
      () => loadTokenizer(dir),
      (err: unknown) =>
        err instanceof TokenizerLoadError &&
        err instanceof EdgeRelayError &&
        err.message.includes(dir) &&
        err.message.includes('tokenizer.json') &&
        err.message.includes('vocab.txt'),
    );
    const missing = join(dir, 'no-such-model');
    assert.throws(
      () => loadTokenizer(missing),
      (err: unknown) => err instanceof TokenizerLoadError && err.message.includes(missing),
    );
  });

  it('rejects a vocabulary without a required special token', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'vocab.txt'), ['[PAD]', '[UNK]', '[SEP]', 'hello'].join('\n') + '\n');
    assert.throws(
      () => loadTokenizer(dir),
      (err: unknown) => err instanceof TokenizerLoadError && err.message.includes('[CLS]') && err.message.includes(dir),
    );
  });

  it('rejects a tokenizer.json whose model the library does not implement, or whose post-processor names an unknown token', () => {
    const json = bertTokenizerJson();
    (json.model as Record<string, unknown>).type = 'WordLevel';
    assert.throws(
      () => loadTokenizer(modelDir({ 'tokenizer.json': json })),
      (err: unknown) => err instanceof TokenizerLoadError && /WordLevel.*WordPiece, BPE, Unigram/.test(err.message),
    );
    const unknownSpecial = robertaTokenizerJson(['a b']);
    (unknownSpecial.post_processor as Record<string, unknown>).cls = ['<cls>', 99];
    assert.throws(
      () => loadTokenizer(modelDir({ 'tokenizer.json': unknownSpecial })),
      (err: unknown) =>
        err instanceof TokenizerLoadError && /"<cls>", which is not in the vocabulary/.test(err.message),
    );
  });
});
