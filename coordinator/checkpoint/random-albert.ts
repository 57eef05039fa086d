/**
 * Write a randomly initialised ALBERT sequence classifier in Hugging Face layout (AlbertForSequenceClassification
 * tensor names, factorised embeddings, shared layer groups), optionally with PABEE exits sharing albert.pooler.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSyntheticVocab, gaussianFill, writeTokenizerFiles, type RandomCheckpointOptions } from './random.js';
import { writeSafetensors, type SafetensorsWriteTensor } from './safetensors.js';

export interface RandomAlbertOptions extends Omit<RandomCheckpointOptions, 'hiddenAct'> {
  /** Default 16 (a fraction of hidden, as ALBERT's 128 of 768). */
  embeddingSize?: number;
  /** num_hidden_groups; must divide layers. Default 1. */
  groups?: number;
  /** inner_group_num: layers per group application. Default 1. */
  innerGroups?: number;
  /** Default 'gelu_new' (ALBERT's). */
  hiddenAct?: RandomCheckpointOptions['hiddenAct'];
}

const INIT_STD = 0.02;
const NOISE_STD = 0.02;

export async function writeRandomAlbertCheckpoint(outDir: string, options: RandomAlbertOptions): Promise<void> {
  const { layers: L, hidden: H, heads } = options;
  const I = options.intermediate ?? 4 * H;
  const V = options.vocabSize ?? 30000;
  const P = options.maxPositions ?? 512;
  const C = options.numLabels ?? 2;
  const E = options.embeddingSize ?? 16;
  const G = options.groups ?? 1;
  const N = options.innerGroups ?? 1;
  const dtype = options.dtype ?? 'F32';
  for (const [name, v] of Object.entries({ layers: L, hidden: H, heads, I, V, P, C, E, G, N })) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`writeRandomAlbertCheckpoint: ${name} must be a positive integer, got ${v}`);
  }
  if (H % heads !== 0)
    throw new RangeError(`writeRandomAlbertCheckpoint: hidden ${H} is not divisible by heads ${heads}`);
  if (L % G !== 0) throw new RangeError(`writeRandomAlbertCheckpoint: groups ${G} do not divide layers ${L}`);
  mkdirSync(outDir, { recursive: true });
  const fill = gaussianFill(options.seed ?? 0);
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  const weight = (name: string, shape: number[]) => {
    tensors[name] = { shape, data: () => fill(shape[0]! * (shape[1] ?? 1), 0, INIT_STD) };
  };
  const linear = (base: string, out: number, inp: number) => {
    weight(`${base}.weight`, [out, inp]);
    tensors[`${base}.bias`] = { shape: [out], data: () => fill(out, 0, NOISE_STD) };
  };
  const layerNorm = (base: string, width = H) => {
    tensors[`${base}.weight`] = { shape: [width], data: () => fill(width, 1, NOISE_STD) };
    tensors[`${base}.bias`] = { shape: [width], data: () => fill(width, 0, NOISE_STD) };
  };
  tensors['albert.embeddings.word_embeddings.weight'] = {
    shape: [V, E],
    data: () => fill(V * E, 0, INIT_STD).fill(0, 0, E), // HF zeroes the padding_idx (0) row
  };
  weight('albert.embeddings.position_embeddings.weight', [P, E]);
  weight('albert.embeddings.token_type_embeddings.weight', [2, E]);
  layerNorm('albert.embeddings.LayerNorm', E);
  linear('albert.encoder.embedding_hidden_mapping_in', H, E);
  for (let g = 0; g < G; g++) {
    for (let j = 0; j < N; j++) {
      const b = `albert.encoder.albert_layer_groups.${g}.albert_layers.${j}`;
      for (const m of ['query', 'key', 'value', 'dense']) linear(`${b}.attention.${m}`, H, H);
      layerNorm(`${b}.attention.LayerNorm`);
      linear(`${b}.ffn`, I, H);
      linear(`${b}.ffn_output`, H, I);
      layerNorm(`${b}.full_layer_layer_norm`);
    }
  }
  linear('albert.pooler', H, H);
  const exitLayers = options.exits ? Array.from({ length: L - 1 }, (_, i) => i) : [];
  for (const i of exitLayers) linear(`classifiers.${i}`, C, H);
  linear('classifier', C, H);
  writeSafetensors(join(outDir, 'model.safetensors'), tensors, { dtype, metadata: { format: 'pt' } });

  const id2label = Object.fromEntries(Array.from({ length: C }, (_, i) => [String(i), `LABEL_${i}`]));
  const config: Record<string, unknown> = {
    architectures: ['AlbertForSequenceClassification'],
    attention_probs_dropout_prob: 0,
    classifier_dropout_prob: 0.1,
    embedding_size: E,
    hidden_act: options.hiddenAct ?? 'gelu_new',
    hidden_dropout_prob: 0,
    hidden_size: H,
    id2label,
    initializer_range: INIT_STD,
    inner_group_num: N,
    intermediate_size: I,
    label2id: Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)])),
    layer_norm_eps: 1e-12,
    max_position_embeddings: P,
    model_type: 'albert',
    num_attention_heads: heads,
    num_hidden_groups: G,
    num_hidden_layers: L,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    tokenizer_class: 'BertTokenizer',
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
    type_vocab_size: 2,
    vocab_size: V,
  };
  if (options.exits) {
    config.early_exit_layers = exitLayers;
    config.early_exit_key_prefix = 'classifiers';
    config.early_exit_style = 'pabee';
  }
  writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeTokenizerFiles(outDir, buildSyntheticVocab(V), P);
}
