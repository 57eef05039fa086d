/**
 * Random RoBERTa, DistilBERT and ELECTRA sequence classifiers in Hugging Face layout: each family's own config.json
 * field names and tensor names, optionally with DeeBERT-style exit heads where fit-exits puts them. The tokenizer is
 * the synthetic WordPiece vocab.txt the BERT writer uses, with RoBERTa's special-token ids for RoBERTa
 * (<s> 0, <pad> 1, </s> 2, <unk> 3, spelt [CLS] [PAD] [SEP] [UNK] so the WordPiece tokenizer serves it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSyntheticVocab, gaussianFill, writeTokenizerFiles, type RandomCheckpointOptions } from './random.js';
import { writeSafetensors, type SafetensorsWriteTensor } from './safetensors.js';
import { FAMILIES, type FamilyName } from './families.js';

export interface RandomFamilyOptions extends RandomCheckpointOptions {
  arch: FamilyName;
  /** electra: embedding_size (default hidden / 2, so the projection is exercised). */
  embeddingSize?: number;
}

const INIT_STD = 0.02;
const NOISE_STD = 0.02;
const DTYPE_NAMES = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/** RoBERTa's special ids: [CLS] (<s>) 0, [PAD] 1, [SEP] (</s>) 2, [UNK] 3, [MASK] last, as in roberta-base. */
export function robertaSyntheticVocab(size: number): string[] {
  const specials = ['[CLS]', '[PAD]', '[SEP]', '[UNK]'];
  const rest = buildSyntheticVocab(size).filter((t) => !specials.includes(t) && t !== '[MASK]');
  return [...specials, ...rest.slice(0, size - 5), '[MASK]'];
}

export async function writeRandomFamilyCheckpoint(outDir: string, options: RandomFamilyOptions): Promise<void> {
  const family = FAMILIES.find((f) => f.name === options.arch);
  if (!family) throw new RangeError(`writeRandomFamilyCheckpoint: unknown arch ${options.arch}`);
  const { layers: L, hidden: H, heads } = options;
  const I = options.intermediate ?? 4 * H;
  const V = options.vocabSize ?? (options.arch === 'roberta' ? 50265 : 30522);
  const C = options.numLabels ?? 2;
  const E = options.arch === 'electra' ? (options.embeddingSize ?? Math.max(1, H / 2)) : H;
  const pad = options.arch === 'roberta' ? 1 : 0;
  // RoBERTa positions start at pad + 1, so its table is two rows longer than the longest text (514 for 512).
  const P = (options.maxPositions ?? 512) + (options.arch === 'roberta' ? pad + 1 : 0);
  const dtype = options.dtype ?? 'F32';
  for (const [name, v] of Object.entries({ layers: L, hidden: H, heads, I, V, C, E, P })) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`writeRandomFamilyCheckpoint: ${name} must be a positive integer, got ${v}`);
  }
  if (H % heads !== 0)
    throw new RangeError(`writeRandomFamilyCheckpoint: hidden ${H} is not divisible by heads ${heads}`);
  mkdirSync(outDir, { recursive: true });

  const fill = gaussianFill(options.seed ?? 0);
  const tensors: Record<string, SafetensorsWriteTensor> = {};
  const weight = (name: string, shape: number[], zeroRow?: number) => {
    const [rows, cols = 1] = shape as [number, number?];
    tensors[name] = {
      shape,
      data: () => {
        const a = fill(rows * cols, 0, INIT_STD);
        return zeroRow === undefined ? a : a.fill(0, zeroRow * cols, (zeroRow + 1) * cols); // HF zeroes padding_idx
      },
    };
  };
  const linear = (base: string, out: number, inp: number) => {
    weight(`${base}.weight`, [out, inp]);
    tensors[`${base}.bias`] = { shape: [out], data: () => fill(out, 0, NOISE_STD) };
  };
  const layerNorm = (base: string, width = H) => {
    tensors[`${base}.weight`] = { shape: [width], data: () => fill(width, 1, NOISE_STD) };
    tensors[`${base}.bias`] = { shape: [width], data: () => fill(width, 0, NOISE_STD) };
  };

  const p = family.prefix;
  weight(`${p}embeddings.word_embeddings.weight`, [V, E], pad);
  weight(`${p}embeddings.position_embeddings.weight`, [P, E], options.arch === 'roberta' ? pad : undefined);
  if (options.arch !== 'distilbert')
    weight(`${p}embeddings.token_type_embeddings.weight`, [options.arch === 'roberta' ? 1 : 2, E]);
  layerNorm(`${p}embeddings.LayerNorm`, E);
  if (E !== H) linear(`${p}embeddings_project`, H, E);
  for (let i = 0; i < L; i++) {
    if (options.arch === 'distilbert') {
      const b = `${p}transformer.layer.${i}`;
      for (const m of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) linear(`${b}.attention.${m}`, H, H);
      layerNorm(`${b}.sa_layer_norm`);
      linear(`${b}.ffn.lin1`, I, H);
      linear(`${b}.ffn.lin2`, H, I);
      layerNorm(`${b}.output_layer_norm`);
    } else {
      const b = `${p}encoder.layer.${i}`;
      for (const m of ['query', 'key', 'value']) linear(`${b}.attention.self.${m}`, H, H);
      linear(`${b}.attention.output.dense`, H, H);
      layerNorm(`${b}.attention.output.LayerNorm`);
      linear(`${b}.intermediate.dense`, I, H);
      linear(`${b}.output.dense`, H, I);
      layerNorm(`${b}.output.LayerNorm`);
    }
  }
  const exitLayers = options.exits ? Array.from({ length: L - 1 }, (_, i) => i) : [];
  for (const i of exitLayers) {
    linear(`${family.exitPrefix}.${i}.pooler.dense`, H, H);
    linear(`${family.exitPrefix}.${i}.classifier`, C, H);
  }
  if (options.arch === 'distilbert') {
    linear('pre_classifier', H, H);
    linear('classifier', C, H);
  } else {
    linear('classifier.dense', H, H);
    linear('classifier.out_proj', C, H);
  }
  writeSafetensors(join(outDir, 'model.safetensors'), tensors, { dtype, metadata: { format: 'pt' } });

  const id2label = Object.fromEntries(Array.from({ length: C }, (_, i) => [String(i), `LABEL_${i}`]));
  const common = {
    architectures: [family.classifiers[0]],
    id2label,
    label2id: Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)])),
    initializer_range: INIT_STD,
    max_position_embeddings: P,
    pad_token_id: pad,
    torch_dtype: DTYPE_NAMES[dtype],
    vocab_size: V,
  };
  const act = options.hiddenAct ?? 'gelu';
  const bertNamed = {
    attention_probs_dropout_prob: 0.1,
    hidden_act: act,
    hidden_dropout_prob: 0.1,
    hidden_size: H,
    intermediate_size: I,
    num_attention_heads: heads,
    num_hidden_layers: L,
    position_embedding_type: 'absolute',
    classifier_dropout: null,
  };
  const config: Record<string, unknown> =
    options.arch === 'roberta'
      ? {
          ...common,
          ...bertNamed,
          model_type: 'roberta',
          bos_token_id: 0,
          eos_token_id: 2,
          layer_norm_eps: 1e-5,
          type_vocab_size: 1,
        }
      : options.arch === 'electra'
        ? {
            ...common,
            ...bertNamed,
            model_type: 'electra',
            embedding_size: E,
            layer_norm_eps: 1e-12,
            type_vocab_size: 2,
          }
        : {
            ...common,
            model_type: 'distilbert',
            activation: act,
            attention_dropout: 0.1,
            dim: H,
            dropout: 0.1,
            hidden_dim: I,
            n_heads: heads,
            n_layers: L,
            qa_dropout: 0.1,
            seq_classif_dropout: 0.2,
            sinusoidal_pos_embds: false,
          };
  if (options.exits) {
    config.early_exit_layers = exitLayers;
    config.early_exit_key_prefix = family.exitPrefix;
  }
  writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const vocab = options.arch === 'roberta' ? robertaSyntheticVocab(V) : buildSyntheticVocab(V);
  writeTokenizerFiles(outDir, vocab, P - (options.arch === 'roberta' ? pad + 1 : 0));
}
