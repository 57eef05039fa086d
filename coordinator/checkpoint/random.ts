/**
 * Write a randomly initialised BERT sequence classifier in Hugging Face layout, for tests and benchmarks
 * that need a model of a given size without downloading one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WritableDtype } from './dtype.js';
import type { HiddenAct } from './types.js';
import { writeSafetensors, type SafetensorsWriteTensor } from './safetensors.js';
import { mulberry32 } from '../util/prng.js';

export interface RandomCheckpointOptions {
  layers: number;
  hidden: number;
  heads: number;
  /** Default 4 * hidden. */
  intermediate?: number;
  /** Default 30522 (bert-base-uncased). */
  vocabSize?: number;
  /** Default 512. */
  maxPositions?: number;
  /** Default 2. */
  numLabels?: number;
  /** Add DeeBERT highway exits after every layer but the last (which uses the final classifier). */
  exits?: boolean;
  /** PRNG seed; the same options and seed give byte-identical files. Default 0. */
  seed?: number;
  /** Default 'F32'. */
  dtype?: WritableDtype;
  /** Written to config.json as hidden_act; default 'gelu'. */
  hiddenAct?: HiddenAct;
}

const INIT_STD = 0.02; // HF initializer_range
const NOISE_STD = 0.02; // biases and LayerNorm params get noise (HF would use 0/1) so code paths using them are tested

/** Standard normals by Box-Muller, using both outputs of each pair. */
/** fill(n, mean, std): n Gaussian draws from one seeded stream, consumed in call order. */
export function gaussianFill(seed: number): (n: number, mean: number, std: number) => Float32Array {
  const normal = normalSource(seed);
  return (n, mean, std) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = mean + std * normal();
    return a;
  };
}

export function normalSource(seed: number): () => number {
  const uniform = mulberry32(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - uniform())); // 1 - u is in (0, 1], so log is finite
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const COMMON_WORDS = (
  'the a an and or but of to in on at for with is was are were be it this that not no very so too ' +
  'movie film story plot acting actor director good great bad best worst fun funny boring dull ' +
  'love loved hate hated like liked well better worse ever never one two all some more most'
).split(' ');

/**
 * Synthetic WordPiece vocabulary of exactly `size` tokens. With size >= 105 it follows bert-base-uncased's
 * layout ([PAD]=0, [unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103); smaller vocabularies
 * put [PAD], [UNK], [CLS], [SEP], [MASK] at ids 0-4 instead so they always exist. Then come single
 * characters (a-z, 0-9, ASCII punctuation), their ## continuations, a few common words and `tok<id>` filler.
 */
export function buildSyntheticVocab(size: number): string[] {
  if (!Number.isInteger(size) || size < SPECIALS.length) {
    throw new RangeError(`vocabSize must be an integer >= ${SPECIALS.length}, got ${size}`);
  }
  const vocab: string[] =
    size > 104
      ? ['[PAD]', ...Array.from({ length: 99 }, (_, i) => `[unused${i}]`), '[UNK]', '[CLS]', '[SEP]', '[MASK]']
      : [...SPECIALS];
  const chars = [
    ...'abcdefghijklmnopqrstuvwxyz0123456789',
    ...Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)).filter(
      (c) => !/[a-z0-9A-Z]/.test(c),
    ),
  ];
  const seen = new Set(vocab);
  for (const tok of [...chars, ...chars.map((c) => `##${c}`), ...COMMON_WORDS]) {
    if (vocab.length >= size) break;
    if (!seen.has(tok)) {
      seen.add(tok);
      vocab.push(tok);
    }
  }
  while (vocab.length < size) vocab.push(`tok${vocab.length}`);
  return vocab;
}

/** Write config.json, model.safetensors, vocab.txt, tokenizer_config.json and special_tokens_map.json to `outDir`. */
export async function writeRandomCheckpoint(outDir: string, options: RandomCheckpointOptions): Promise<void> {
  const { layers: L, hidden: H, heads } = options;
  const I = options.intermediate ?? 4 * H;
  const V = options.vocabSize ?? 30522;
  const P = options.maxPositions ?? 512;
  const C = options.numLabels ?? 2;
  const dtype = options.dtype ?? 'F32';
  for (const [name, v] of Object.entries({
    layers: L,
    hidden: H,
    heads,
    intermediate: I,
    vocabSize: V,
    maxPositions: P,
    numLabels: C,
  })) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`writeRandomCheckpoint: ${name} must be a positive integer, got ${v}`);
  }
  if (H % heads !== 0) throw new RangeError(`writeRandomCheckpoint: hidden ${H} is not divisible by heads ${heads}`);
  const vocab = buildSyntheticVocab(V);
  mkdirSync(outDir, { recursive: true });

  // One PRNG stream consumed in tensor order; tensors are generated lazily while writing.
  const fill = gaussianFill(options.seed ?? 0);
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  const weight = (name: string, shape: number[]) => {
    tensors[name] = {
      shape,
      data: () =>
        fill(
          shape.reduce((a, b) => a * b, 1),
          0,
          INIT_STD,
        ),
    };
  };
  const linear = (base: string, out: number, inp: number) => {
    weight(`${base}.weight`, [out, inp]);
    tensors[`${base}.bias`] = { shape: [out], data: () => fill(out, 0, NOISE_STD) };
  };
  const layerNorm = (base: string) => {
    tensors[`${base}.weight`] = { shape: [H], data: () => fill(H, 1, NOISE_STD) };
    tensors[`${base}.bias`] = { shape: [H], data: () => fill(H, 0, NOISE_STD) };
  };

  tensors['bert.embeddings.word_embeddings.weight'] = {
    shape: [V, H],
    data: () => fill(V * H, 0, INIT_STD).fill(0, 0, H), // HF zeroes the padding_idx (0) row
  };
  weight('bert.embeddings.position_embeddings.weight', [P, H]);
  weight('bert.embeddings.token_type_embeddings.weight', [2, H]);
  layerNorm('bert.embeddings.LayerNorm');
  for (let i = 0; i < L; i++) {
    const b = `bert.encoder.layer.${i}`;
    for (const m of ['query', 'key', 'value']) linear(`${b}.attention.self.${m}`, H, H);
    linear(`${b}.attention.output.dense`, H, H);
    layerNorm(`${b}.attention.output.LayerNorm`);
    linear(`${b}.intermediate.dense`, I, H);
    linear(`${b}.output.dense`, H, I);
    layerNorm(`${b}.output.LayerNorm`);
  }
  const exitLayers = options.exits ? Array.from({ length: L - 1 }, (_, i) => i) : [];
  for (const i of exitLayers) {
    linear(`bert.encoder.highway.${i}.pooler.dense`, H, H);
    linear(`bert.encoder.highway.${i}.classifier`, C, H);
  }
  linear('bert.pooler.dense', H, H);
  linear('classifier', C, H);
  writeSafetensors(join(outDir, 'model.safetensors'), tensors, { dtype, metadata: { format: 'pt' } });

  const id2label = Object.fromEntries(Array.from({ length: C }, (_, i) => [String(i), `LABEL_${i}`]));
  const config: Record<string, unknown> = {
    architectures: ['BertForSequenceClassification'],
    attention_probs_dropout_prob: 0.1,
    classifier_dropout: null,
    hidden_act: options.hiddenAct ?? 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: H,
    id2label,
    initializer_range: INIT_STD,
    intermediate_size: I,
    label2id: Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)])),
    layer_norm_eps: 1e-12,
    max_position_embeddings: P,
    model_type: 'bert',
    num_attention_heads: heads,
    num_hidden_layers: L,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    problem_type: 'single_label_classification',
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
    type_vocab_size: 2,
    use_cache: true,
    vocab_size: V,
  };
  if (options.exits) {
    config.early_exit_layers = exitLayers;
    config.early_exit_key_prefix = 'bert.encoder.highway';
  }
  writeFileSync(join(outDir, 'config.json'), json(config));
  writeTokenizerFiles(outDir, vocab, P);
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** vocab.txt, tokenizer_config.json (BertTokenizer, uncased) and special_tokens_map.json. */
export function writeTokenizerFiles(outDir: string, vocab: string[], maxPositions: number): void {
  const P = maxPositions;
  writeFileSync(join(outDir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  writeFileSync(
    join(outDir, 'tokenizer_config.json'),
    json({ do_lower_case: true, model_max_length: P, tokenizer_class: 'BertTokenizer' }),
  );
  writeFileSync(
    join(outDir, 'special_tokens_map.json'),
    json({ cls_token: '[CLS]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' }),
  );
}
