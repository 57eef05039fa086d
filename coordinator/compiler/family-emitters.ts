/** The graph pieces where RoBERTa / DistilBERT / ELECTRA differ from BERT: position ids, token types, head activation. */
import type { HeadActivation, Tensor } from '../checkpoint/types.js';
import type { GraphBuilder } from './graph-builder.js';

const INT64 = 7; // ONNX TensorProto.INT64

/**
 * RoBERTa / XLM-R position embeddings, with the position ids computed from the input ids as
 * transformers/models/roberta/modeling_roberta.py create_position_ids_from_input_ids does:
 * mask = (input_ids != padding_idx); ids = cumsum(mask, dim=1) · mask + padding_idx. Real tokens count from
 * padding_idx + 1 and pads get padding_idx, whatever the padding side; computed here so every caller (single node,
 * cluster agents) gets them from the ids alone.
 */
export function emitPaddingOffsetPositions(
  g: GraphBuilder,
  table: string,
  inputIds: string,
  paddingIdx: number,
): string {
  const pad = g.int64s('pad_idx', [paddingIdx], []);
  const mask = g.op('Cast', [g.op('Not', [g.op('Equal', [inputIds, pad])])], { to: { int: INT64 } });
  const counted = g.op('CumSum', [mask, g.int64s('seq_axis', [1], [])]);
  const ids = g.op('Add', [g.op('Mul', [counted, mask]), pad]);
  return g.op('Gather', [table, ids], { axis: { int: 0 } });
}

/**
 * Token-type embeddings: a table with one row (RoBERTa's type_vocab_size 1, DistilBERT's none) is added to every
 * token without reading the ids, so a caller that sends BERT-style pair type ids cannot index past it.
 */
export function emitTokenTypes(g: GraphBuilder, table: Tensor, tokenTypeIds: string): string {
  const w = g.weight('type_emb', table.data, table.shape);
  if (table.shape[0] === 1) return w; // [1, width] broadcasts over [batch, seq, width]
  return g.op('Gather', [w, tokenTypeIds], { axis: { int: 0 } });
}

/**
 * The head's activation between its dense layer and its output projection: tanh (BERT pooler,
 * RobertaClassificationHead), relu (DistilBertForSequenceClassification), exact erf gelu (ElectraClassificationHead,
 * get_activation("gelu")).
 */
export function emitHeadActivation(
  g: GraphBuilder,
  x: string,
  activation: HeadActivation | undefined,
  gelu: (x: string) => string,
): string {
  if (activation === 'relu') return g.op('Relu', [x]);
  if (activation === 'gelu') return gelu(x);
  return g.op('Tanh', [x]);
}
