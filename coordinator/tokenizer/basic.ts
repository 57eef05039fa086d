/**
 * BERT "basic" tokenization: the normalization and pre-tokenization that happen before WordPiece.
 * Mirrors Hugging Face's BertNormalizer + BertPreTokenizer (and the slow BertTokenizer's
 * BasicTokenizer): clean text, space out CJK ideographs, split on whitespace, lowercase and strip
 * accents, split off punctuation.
 */

export interface BasicTokenizerOptions {
  /** Drop NUL, U+FFFD and control characters; map whitespace to a space. */
  cleanText: boolean;
  /** Put spaces around CJK ideographs so each becomes its own word. */
  handleChineseChars: boolean;
  lowercase: boolean;
  /** NFD, then drop nonspacing marks (Mn). */
  stripAccents: boolean;
}

// Character classes, bit flags. A class is computed once per code point and cached, so the
// Unicode-property regexes run at most once per distinct character rather than once per character.
const KNOWN = 1;
const DROP = 2; // removed by clean_text
const SPACE = 4; // separates words
const PUNCT = 8; // becomes a word of its own
const CJK = 16;

// 1.1 MB, one byte per code point: cheaper than a Map lookup in the hot loop.
const classes = new Uint8Array(0x110000);

// HF's is_control counts every "Other" category (Cc, Cf, Cn, Co, Cs) as control, not just Cc/Cf.
const OTHER_RE = /^\p{C}$/u;
// Rust's char::is_whitespace, i.e. the Unicode White_Space property (also what Python's str.split()
// splits on, for the characters that survive cleaning).
const WHITE_SPACE_RE = /^\p{White_Space}$/u;
const PUNCTUATION_RE = /^\p{P}$/u;
const NONSPACING_MARK_RE = /\p{Mn}/gu;

/** The same ranges as Hugging Face's `_is_chinese_char` (CJK Unified Ideographs and extensions). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** HF's `_is_punctuation`: all non-alphanumeric printable ASCII, plus Unicode category P*. */
export function isPunctuation(cp: number): boolean {
  return (classify(cp) & PUNCT) !== 0;
}

function computeClass(cp: number): number {
  // \t \n \r are technically controls, but BERT treats them as whitespace.
  if (cp === 0x09 || cp === 0x0a || cp === 0x0d) return KNOWN | SPACE;
  const ch = String.fromCodePoint(cp);
  let c = KNOWN;
  if (cp === 0 || cp === 0xfffd || OTHER_RE.test(ch)) c |= DROP;
  if (WHITE_SPACE_RE.test(ch)) c |= SPACE;
  const asciiPunct =
    (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  if (asciiPunct || PUNCTUATION_RE.test(ch)) c |= PUNCT;
  if (isChineseChar(cp)) c |= CJK;
  return c;
}

function classify(cp: number): number {
  let c = classes[cp];
  if (c === 0) {
    c = computeClass(cp);
    classes[cp] = c;
  }
  return c;
}

for (let cp = 0; cp < 128; cp++) classify(cp);

/**
 * Lowercases / strips accents of one whitespace-delimited word, then splits it on punctuation
 * (and on any whitespace the normalization produced, as HF re-splits after normalizing).
 * Returns false as soon as `emit` does.
 */
function finishWord(
  word: string,
  nonAscii: boolean,
  opts: BasicTokenizerOptions,
  emit: (piece: string) => boolean,
): boolean {
  // Lowercase per word, like the slow BertTokenizer, so final-sigma handling matches Python's str.lower().
  if (opts.lowercase) word = word.toLowerCase();
  // ASCII has nothing to decompose, so skip the (comparatively costly) NFD for it.
  if (opts.stripAccents && nonAscii) word = word.normalize('NFD').replace(NONSPACING_MARK_RE, '');

  let start = 0;
  const n = word.length;
  for (let i = 0; i < n;) {
    const cp = word.codePointAt(i)!;
    const size = cp > 0xffff ? 2 : 1;
    const c = classify(cp);
    if (c & (PUNCT | SPACE)) {
      if (i > start && !emit(word.slice(start, i))) return false;
      if (c & PUNCT && !emit(word.slice(i, i + size))) return false;
      start = i + size;
    }
    i += size;
  }
  if (n > start && !emit(start === 0 ? word : word.slice(start))) return false;
  return true;
}

/**
 * Runs the basic tokenizer over `text`, calling `emit` with each pre-token (the strings WordPiece
 * will see). Stops early when `emit` returns false, so a truncating caller does not pay for the
 * rest of a long text.
 */
export function forEachPreToken(text: string, opts: BasicTokenizerOptions, emit: (piece: string) => boolean): void {
  // A word is assembled from runs of `text` between dropped characters; segStart is the start of the
  // current run (or -1), so plain words are a single slice with no per-character concatenation.
  let word = '';
  let segStart = -1;
  let nonAscii = false;
  const n = text.length;
  for (let i = 0; i < n;) {
    const cp = text.codePointAt(i)!;
    const size = cp > 0xffff ? 2 : 1;
    const c = cp < 128 ? classes[cp] : classify(cp);
    if ((c & DROP && opts.cleanText) || c & SPACE || (c & CJK && opts.handleChineseChars)) {
      if (segStart >= 0) {
        word += text.slice(segStart, i);
        segStart = -1;
      }
      // A dropped character joins its neighbours into one word, as in HF (clean_text deletes it).
      if (!(c & DROP && opts.cleanText)) {
        if (word.length > 0) {
          if (!finishWord(word, nonAscii, opts, emit)) return;
          word = '';
          nonAscii = false;
        }
        if (c & CJK && !finishWord(text.slice(i, i + size), true, opts, emit)) return;
      }
    } else {
      if (segStart < 0) segStart = i;
      if (cp >= 128) nonAscii = true;
    }
    i += size;
  }
  if (segStart >= 0) word += text.slice(segStart);
  if (word.length > 0) finishWord(word, nonAscii, opts, emit);
}

/** All pre-tokens of `text`, e.g. "Hello, World!" → ["hello", ",", "world", "!"] when lowercasing. */
export function basicTokenize(text: string, opts: BasicTokenizerOptions): string[] {
  const out: string[] = [];
  forEachPreToken(text, opts, (piece) => {
    out.push(piece);
    return true;
  });
  return out;
}
