import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Tokenizer } from '@huggingface/tokenizers';

import { EdgeRelayError } from '../proto/errors.js';
import { BertTokenizer, loadTokenizer, TokenizerLoadError } from '../coordinator/tokenizer/index.js';

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

/** A Hugging Face tokenizer.json for BERT built from the fixture's vocab.txt. */
function bertTokenizerJson(flags: NormalizerFlags = {}): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  vocabLines.forEach((token, id) => (vocab[token] = id));
  const special = (token: string) => ({ SpecialToken: { id: token, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    // No added tokens: the reference should tokenize exactly via normalizer → pre-tokenizer → model.
    added_tokens: [],
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
        special('[SEP]'),
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

function writeTokenizerJson(flags: NormalizerFlags = {}): string {
  const path = join(tempDir(), 'tokenizer.json');
  writeFileSync(path, JSON.stringify(bertTokenizerJson(flags)));
  return path;
}

/** Pairs of (text, our ids, reference ids) that differ; deepStrictEqual to [] shows them all on failure. */
function mismatches(ours: BertTokenizer, reference: Tokenizer, texts: string[]) {
  return texts
    .map((text) => ({ text, ours: ours.encode(text, NO_TRUNCATION).ids, reference: reference.encode(text).ids }))
    .filter((r) => !(r.ours.length === r.reference.length && r.ours.every((id, i) => id === r.reference[i])));
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

describe('BertTokenizer', () => {
  const tokenizer = BertTokenizer.fromVocabFile(VOCAB_TXT, { lowercase: true });
  const reference = hfTokenizer();

  after(() => {
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('matches Hugging Face tokenizers on every dev.tsv sentence', () => {
    // Guard against a vacuous pass: the fixture must really be there and really exercise WordPiece.
    assert.equal(devSentences.length, 436);
    assert.ok(devSentences.some((s) => tokenizer.tokenize(s).some((t) => t.startsWith('##'))));
    assert.deepStrictEqual(mismatches(tokenizer, reference, devSentences), []);
  });

  it('matches Hugging Face tokenizers on hard hand-made strings', () => {
    for (const text of HARD_STRINGS) {
      assert.deepStrictEqual(
        tokenizer.encode(text, NO_TRUNCATION).ids,
        reference.encode(text).ids,
        JSON.stringify(text),
      );
    }
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
  });

  it('spaces out CJK ideographs outside the BMP and drops unassigned code points, like HF', () => {
    // The JS reference gets these wrong (it checks UTF-16 units, and keeps category Cn), so they
    // are pinned by hand: Python's _is_chinese_char covers U+20000.., and _is_control drops all C*.
    assert.deepStrictEqual(tokenizer.tokenize('a\u{20000}b'), ['a', '[UNK]', 'b']);
    assert.deepStrictEqual(tokenizer.tokenize('ab\u0378cd'), tokenizer.tokenize('abcd'));
  });

  it('honours tokenizer.json normalizer flags the way Hugging Face does', () => {
    const variants: NormalizerFlags[] = [
      { lowercase: false },
      { lowercase: true, strip_accents: false },
      { lowercase: false, strip_accents: true },
      { handle_chinese_chars: false },
    ];
    for (const flags of variants) {
      const ours = BertTokenizer.fromTokenizerJson(writeTokenizerJson(flags));
      const texts = [...HARD_STRINGS, ...devSentences.slice(0, 50)];
      assert.deepStrictEqual(mismatches(ours, hfTokenizer(flags), texts), [], JSON.stringify(flags));
    }
    // clean_text off: controls stay inside words. The JS reference's whitespace (JS \s) differs from
    // HF's (Unicode White_Space) only on U+0085 and U+FEFF, so leave those out of this comparison.
    const noClean = BertTokenizer.fromTokenizerJson(writeTokenizerJson({ clean_text: false }));
    const texts = HARD_STRINGS.filter((t) => !/[\u0085\ufeff]/.test(t));
    assert.deepStrictEqual(mismatches(noClean, hfTokenizer({ clean_text: false }), texts), []);
    assert.deepStrictEqual(noClean.tokenize('a\u0007b'), ['[UNK]']);
    assert.deepStrictEqual(tokenizer.tokenize('a\u0007b'), ['ab']);
  });

  it('fromTokenizerJson gives the same ids as fromVocabFile', () => {
    const fromJson = BertTokenizer.fromTokenizerJson(writeTokenizerJson());
    assert.equal(fromJson.vocabSize, tokenizer.vocabSize);
    for (const text of [...devSentences, ...HARD_STRINGS]) {
      assert.deepStrictEqual(
        fromJson.encode(text, NO_TRUNCATION),
        tokenizer.encode(text, NO_TRUNCATION),
        JSON.stringify(text),
      );
    }
  });

  it('exposes the special ids and vocabulary size of bert-base-uncased', () => {
    assert.deepStrictEqual(
      [tokenizer.padId, tokenizer.unkId, tokenizer.clsId, tokenizer.sepId, tokenizer.vocabSize],
      [0, 100, 101, 102, 30522],
    );
  });

  it('truncates to exactly maxLength, keeping [CLS] first and [SEP] last', () => {
    const text = devSentences.find((s) => tokenizer.tokenize(s).length > 20)!;
    const full = tokenizer.encode(text, NO_TRUNCATION);
    const cut = tokenizer.encode(text, 10);
    assert.equal(cut.ids.length, 10);
    assert.deepStrictEqual(cut.ids, [101, ...full.ids.slice(1, 9), 102]);
    assert.deepStrictEqual(cut.tokens, ['[CLS]', ...full.tokens.slice(1, 9), '[SEP]']);
    assert.deepStrictEqual(tokenizer.encode(text, 2).ids, [101, 102]);
    // Short text: no padding in encode.
    assert.deepStrictEqual(tokenizer.encode('hello world', 64).tokens, ['[CLS]', 'hello', 'world', '[SEP]']);
    // A word whose pieces straddle the limit is cut mid-word, as HF truncation does.
    assert.deepStrictEqual(tokenizer.encode('unaffable', 3).tokens, ['[CLS]', 'una', '[SEP]']);
    assert.throws(() => tokenizer.encode(text, 1), RangeError);
  });

  it('pads a batch to its longest row with [PAD] and a 0 attention mask', () => {
    const texts = ['hello world', 'a much longer sentence with several more tokens in it', ''];
    const rows = texts.map((t) => tokenizer.encode(t, 64).ids);
    const batch = tokenizer.encodeBatch(texts, 64);
    const seqLen = Math.max(...rows.map((r) => r.length));
    assert.equal(batch.batchSize, 3);
    assert.equal(batch.seqLen, seqLen);
    assert.ok(seqLen < 64, 'padded to the longest row, not to maxLength');
    assert.deepStrictEqual(
      batch.lengths,
      rows.map((r) => r.length),
    );
    for (const arr of [batch.inputIds, batch.attentionMask, batch.tokenTypeIds]) {
      assert.ok(arr instanceof BigInt64Array);
      assert.equal(arr.length, 3 * seqLen);
    }
    const expectedIds = rows.flatMap((r) => [...r, ...Array(seqLen - r.length).fill(tokenizer.padId)]).map(BigInt);
    const expectedMask = rows.flatMap((r) => [...Array(r.length).fill(1n), ...Array(seqLen - r.length).fill(0n)]);
    assert.deepStrictEqual([...batch.inputIds], expectedIds);
    assert.deepStrictEqual([...batch.attentionMask], expectedMask);
    assert.deepStrictEqual([...batch.tokenTypeIds], Array(3 * seqLen).fill(0n));

    const long = tokenizer.encodeBatch(['short', devSentences.find((s) => tokenizer.tokenize(s).length > 20)!], 16);
    assert.equal(long.seqLen, 16);
    assert.deepStrictEqual(long.lengths, [3, 16]);
    assert.equal(long.inputIds[31], 102n);
  });

  describe('loadTokenizer', () => {
    it('loads vocab.txt with tokenizer_config.json from a model directory', () => {
      const loaded = loadTokenizer(FIXTURE);
      for (const text of devSentences.slice(0, 20)) {
        assert.deepStrictEqual(loaded.encode(text, 64), tokenizer.encode(text, 64));
      }
    });

    it('prefers tokenizer.json over vocab.txt', () => {
      const dir = tempDir();
      copyFileSync(VOCAB_TXT, join(dir, 'vocab.txt'));
      // tokenizer.json says cased; vocab.txt alone would lowercase.
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(bertTokenizerJson({ lowercase: false })));
      assert.deepStrictEqual(loadTokenizer(dir).tokenize('Hello'), ['[UNK]']);
      assert.deepStrictEqual(loadTokenizer(dir, { lowercase: true }).tokenize('Hello'), ['hello']);
    });

    it("follows tokenizer_config.json's do_lower_case, defaulting to lowercase", () => {
      const dir = tempDir();
      copyFileSync(VOCAB_TXT, join(dir, 'vocab.txt'));
      assert.deepStrictEqual(loadTokenizer(dir).tokenize('Hello'), ['hello']);
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false }));
      assert.deepStrictEqual(loadTokenizer(dir).tokenize('Hello'), ['[UNK]']);
      assert.deepStrictEqual(loadTokenizer(dir, { lowercase: true }).tokenize('Hello'), ['hello']);
    });

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
        (err: unknown) =>
          err instanceof TokenizerLoadError && err.message.includes('[CLS]') && err.message.includes(dir),
      );
    });

    it('rejects a tokenizer.json that is not a BERT WordPiece tokenizer', () => {
      const json = bertTokenizerJson();
      (json.model as Record<string, unknown>).type = 'BPE';
      const path = join(tempDir(), 'tokenizer.json');
      writeFileSync(path, JSON.stringify(json));
      assert.throws(
        () => BertTokenizer.fromTokenizerJson(path),
        (err: unknown) => err instanceof TokenizerLoadError && /WordPiece/.test(err.message),
      );
    });
  });
});
