/**
 * Small tokenizer.json files written by tests: a RoBERTa-style byte-level BPE whose merges are learnt from a
 * corpus, and a Unigram with Metaspace pre-tokenization. Both follow the Hugging Face tokenizers format.
 */

/** GPT-2's bytes_to_unicode: every byte as a printable character, so byte-level BPE works on strings. */
export function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  return chars;
}

/** Byte-level words of a corpus, as GPT-2 roughly sees them: a space becomes the "Ġ" that starts the next word. */
function byteLevelWords(corpus: readonly string[]): Map<string, number> {
  const alphabet = byteLevelAlphabet();
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const line of corpus) {
    line.split(' ').forEach((word, i) => {
      if (!word) return;
      const bytes = encoder.encode(i === 0 ? word : ` ${word}`);
      const w = Array.from(bytes, (b) => alphabet[b]!).join('\u0001');
      counts.set(w, (counts.get(w) ?? 0) + 1);
    });
  }
  return counts;
}

/** Greedy BPE training: the most frequent adjacent pair is merged, `merges` times. */
function learnMerges(corpus: readonly string[], merges: number): [string, string][] {
  let words = [...byteLevelWords(corpus)].map(([w, n]) => ({ symbols: w.split('\u0001'), n }));
  const out: [string, string][] = [];
  for (let m = 0; m < merges; m++) {
    const pairs = new Map<string, number>();
    for (const { symbols, n } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]}\u0001${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    let best: string | undefined;
    let bestCount = 1;
    for (const [key, n] of pairs)
      if (n > bestCount || (n === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = n;
      }
    if (!best) break;
    const [a, b] = best.split('\u0001') as [string, string];
    out.push([a, b]);
    words = words.map(({ symbols, n }) => {
      const next: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(symbols[i]!);
      }
      return { symbols: next, n };
    });
  }
  return out;
}

const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/**
 * A RoBERTa-style tokenizer.json: <s>=0 <pad>=1 </s>=2 <unk>=3, the 256 byte characters, then `merges` merges
 * learnt from `corpus`, and <mask> last; ByteLevel pre-tokenizer and decoder, RobertaProcessing.
 */
export function robertaTokenizerJson(corpus: readonly string[], merges = 300): Record<string, unknown> {
  const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  let next = 4;
  for (const c of byteLevelAlphabet()) vocab[c] = next++;
  const learnt = learnMerges(corpus, merges);
  for (const [a, b] of learnt) if (vocab[a + b] === undefined) vocab[a + b] = next++;
  const mask = next;
  vocab['<mask>'] = mask;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      special(0, '<s>'),
      special(1, '<pad>'),
      special(2, '</s>'),
      special(3, '<unk>'),
      special(mask, '<mask>'),
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['</s>', 2],
      cls: ['<s>', 0],
      trim_offsets: true,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: learnt.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * A Unigram tokenizer.json (ALBERT/T5 style): <unk>=0 <pad>=1 [CLS]=2 [SEP]=3, "▁word" pieces for the corpus's
 * frequent words scored by frequency, and every character it uses as a fallback; Metaspace pre-tokenization,
 * a BERT-like template with type 1 for the pair's second text.
 */
export function unigramTokenizerJson(corpus: readonly string[], words = 400): Record<string, unknown> {
  const counts = new Map<string, number>();
  const chars = new Set<string>();
  for (const line of corpus) {
    for (const w of line.toLowerCase().split(/\s+/).filter(Boolean)) counts.set(w, (counts.get(w) ?? 0) + 1);
    for (const c of line.toLowerCase()) if (c.trim()) chars.add(c);
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const frequent = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, words);
  const vocab: [string, number][] = [
    ['<unk>', 0],
    ['<pad>', 0],
    ['[CLS]', 0],
    ['[SEP]', 0],
    ['▁', -3],
    ...frequent.map(([w, n]): [string, number] => [`▁${w}`, Math.log(n / total)]),
    ...[...chars].sort().map((c): [string, number] => [c, -12]),
  ];
  const seen = new Set<string>();
  const unique = vocab.filter(([p]) => !seen.has(p) && seen.add(p));
  const tokenSpecial = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<pad>'), special(2, '[CLS]'), special(3, '[SEP]')],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [tokenSpecial('[CLS]', 0), { Sequence: { id: 'A', type_id: 0 } }, tokenSpecial('[SEP]', 0)],
      pair: [
        tokenSpecial('[CLS]', 0),
        { Sequence: { id: 'A', type_id: 0 } },
        tokenSpecial('[SEP]', 0),
        { Sequence: { id: 'B', type_id: 1 } },
        tokenSpecial('[SEP]', 1),
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: unique, byte_fallback: false },
  };
}
