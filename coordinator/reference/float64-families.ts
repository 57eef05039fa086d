/**
 * Plain float64 forward passes of RoBERTa / XLM-R, DistilBERT and ELECTRA sequence classifiers, read straight from
 * the Hugging Face tensor names and config.json fields (not through the loader's mapping), so they check the
 * mapping as well as the compiled graphs. Written from transformers' modelling code:
 * - roberta/modeling_roberta.py: create_position_ids_from_input_ids, RobertaEmbeddings.forward,
 *   RobertaClassificationHead.forward (dense → tanh → out_proj on <s>);
 * - distilbert/modeling_distilbert.py: Embeddings.forward (word + position, LayerNorm eps 1e-12, no token types),
 *   MultiHeadSelfAttention / FFN / TransformerBlock.forward, DistilBertForSequenceClassification.forward
 *   (pre_classifier → ReLU → classifier on token 0);
 * - electra/modeling_electra.py: ElectraEmbeddings.forward (embedding_size), ElectraModel.forward
 *   (embeddings_project when embedding_size ≠ hidden_size), ElectraClassificationHead.forward
 *   (dense → gelu → out_proj on token 0; get_activation("gelu") is the exact erf GELU).
 * The encoder layer is BertLayer's post-LN arithmetic (encoderLayer in float64.ts), which RobertaLayer and
 * ElectraLayer copy and DistilBERT's TransformerBlock computes in the same order. Dropout is identity at inference.
 * Exit heads are read where the file has them, in the form `fit-exits` writes (<family>.….highway.{i}).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../checkpoint/safetensors.js';
import type { BertConfig, EncoderLayerWeights, HiddenAct, LinearWeights, Tensor } from '../checkpoint/types.js';
import { encoderLayer, erf, linear } from './float64.js';

export interface FamilyFloat64Result {
  /** Hidden state after each layer: [layer][batch] → [seq][hidden]. */
  layerOutputs: Float64Array[][][];
  /** Logits per layer where the model has a head there (exits and the final classifier): [layer][batch][label]. */
  headLogits: (number[][] | undefined)[];
}

type Raw = Record<string, unknown>;

interface Dims {
  H: number;
  heads: number;
  L: number;
  eps: number;
  act: HiddenAct;
  pad: number;
}

function dimsOf(modelType: string, c: Raw): Dims {
  if (modelType === 'distilbert') {
    return {
      H: c.dim as number,
      heads: c.n_heads as number,
      L: c.n_layers as number,
      eps: 1e-12,
      act: c.activation as HiddenAct,
      pad: (c.pad_token_id as number | undefined) ?? 0,
    };
  }
  return {
    H: c.hidden_size as number,
    heads: c.num_attention_heads as number,
    L: c.num_hidden_layers as number,
    eps: (c.layer_norm_eps as number | undefined) ?? 1e-12,
    act: ((c.hidden_act as string | undefined) ?? 'gelu') as HiddenAct,
    pad: (c.pad_token_id as number | undefined) ?? (modelType === 'electra' ? 0 : 1),
  };
}

function layerNorm(x: Float64Array, w: Tensor, b: Tensor, eps: number): Float64Array {
  const n = x.length;
  const mean = x.reduce((a, v) => a + v, 0) / n;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w.data[i]! + b.data[i]!);
}

/** create_position_ids_from_input_ids: cumsum(ids != pad) · (ids != pad) + pad. */
export function robertaPositionIds(ids: number[], paddingIdx: number): number[] {
  let count = 0;
  return ids.map((id) => (id !== paddingIdx ? paddingIdx + ++count : paddingIdx));
}

/** Forward pass of the checkpoint in `dir` (config.json + model.safetensors) on a padded batch. */
export function forwardFamilyFloat64(
  dir: string,
  input: { inputIds: number[][]; attentionMask: number[][]; tokenTypeIds?: number[][] },
): FamilyFloat64Result {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Raw;
  const modelType = c.model_type as string;
  const file = readSafetensors(join(dir, 'model.safetensors'));
  const d = dimsOf(modelType, c);
  const t = (name: string): Tensor => {
    if (!file.has(name)) throw new Error(`float64 reference: ${file.path} has no tensor ${name}`);
    return file.tensor(name);
  };
  const lin = (base: string): LinearWeights => ({ weight: t(`${base}.weight`), bias: t(`${base}.bias`) });
  // encoderLayer reads only these fields of the config.
  const layerConfig = { hiddenSize: d.H, numHeads: d.heads, layerNormEps: d.eps, hiddenAct: d.act } as BertConfig;

  const prefix = { roberta: 'roberta', 'xlm-roberta': 'roberta', distilbert: 'distilbert', electra: 'electra' }[
    modelType
  ];
  if (!prefix) throw new Error(`float64 reference: no family reference for model_type ${modelType}`);
  const embed = (ids: number[], types: number[]): Float64Array[] => {
    const e = `${prefix}.embeddings`;
    const word = t(`${e}.word_embeddings.weight`);
    const pos = t(`${e}.position_embeddings.weight`);
    const width = word.shape[1]!;
    const positions = prefix === 'roberta' ? robertaPositionIds(ids, d.pad) : ids.map((_, i) => i);
    const typeTable = prefix === 'distilbert' ? undefined : t(`${e}.token_type_embeddings.weight`);
    return ids.map((id, i) => {
      const v = new Float64Array(width);
      for (let h = 0; h < width; h++) {
        v[h] = word.data[id * width + h]! + pos.data[positions[i]! * width + h]!;
        if (typeTable) v[h]! += typeTable.data[types[i]! * width + h]!;
      }
      const normed = layerNorm(v, t(`${e}.LayerNorm.weight`), t(`${e}.LayerNorm.bias`), d.eps);
      const project = `${prefix}.embeddings_project`;
      return prefix === 'electra' && file.has(`${project}.weight`) ? linear(normed, lin(project)) : normed;
    });
  };
  const layer = (i: number): EncoderLayerWeights => {
    if (prefix === 'distilbert') {
      const b = `distilbert.transformer.layer.${i}`;
      const ln = (n: string) => ({ weight: t(`${b}.${n}.weight`), bias: t(`${b}.${n}.bias`) });
      return {
        query: lin(`${b}.attention.q_lin`),
        key: lin(`${b}.attention.k_lin`),
        value: lin(`${b}.attention.v_lin`),
        attentionOutput: lin(`${b}.attention.out_lin`),
        attentionLayerNorm: ln('sa_layer_norm'),
        intermediate: lin(`${b}.ffn.lin1`),
        output: lin(`${b}.ffn.lin2`),
        outputLayerNorm: ln('output_layer_norm'),
      };
    }
    const b = `${prefix}.encoder.layer.${i}`;
    const ln = (n: string) => ({ weight: t(`${b}.${n}.weight`), bias: t(`${b}.${n}.bias`) });
    return {
      query: lin(`${b}.attention.self.query`),
      key: lin(`${b}.attention.self.key`),
      value: lin(`${b}.attention.self.value`),
      attentionOutput: lin(`${b}.attention.output.dense`),
      attentionLayerNorm: ln('attention.output.LayerNorm'),
      intermediate: lin(`${b}.intermediate.dense`),
      output: lin(`${b}.output.dense`),
      outputLayerNorm: ln('output.LayerNorm'),
    };
  };
  const act = (x: number): number =>
    prefix === 'distilbert'
      ? Math.max(0, x)
      : prefix === 'electra'
        ? 0.5 * x * (1 + erf(x / Math.SQRT2))
        : Math.tanh(x);
  const headAt = (i: number): [LinearWeights, LinearWeights] | undefined => {
    if (i === d.L - 1) {
      return prefix === 'distilbert'
        ? [lin('pre_classifier'), lin('classifier')]
        : [lin('classifier.dense'), lin('classifier.out_proj')];
    }
    const h = `${prefix}.${prefix === 'distilbert' ? 'transformer' : 'encoder'}.highway.${i}`;
    return file.has(`${h}.classifier.weight`) ? [lin(`${h}.pooler.dense`), lin(`${h}.classifier`)] : undefined;
  };

  let states = input.inputIds.map((ids, b) => embed(ids, input.tokenTypeIds?.[b] ?? ids.map(() => 0)));
  const layerOutputs: Float64Array[][][] = [];
  const headLogits: (number[][] | undefined)[] = [];
  for (let i = 0; i < d.L; i++) {
    const w = layer(i);
    states = states.map((s, b) => encoderLayer(w, layerConfig, s, input.attentionMask[b]!));
    layerOutputs.push(states);
    const head = headAt(i);
    headLogits.push(head && states.map((s) => Array.from(linear(linear(s[0]!, head[0]).map(act), head[1]))));
  }
  return { layerOutputs, headLogits };
}
