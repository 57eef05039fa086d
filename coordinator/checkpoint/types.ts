/** A dense float32 tensor, row-major. Linear weights keep Hugging Face's [out, in] layout. */
export interface Tensor {
  shape: number[];
  data: Float32Array;
  /**
   * Set when the checkpoint stores this linear weight as int8 (`edgerelay convert --dtype int8`, see int8.ts):
   * `data` is then exactly values · scale[row], and the compiler runs it through ONNX Runtime's integer kernels.
   */
  int8?: Int8Weight;
}

/** A [out, in] linear weight as symmetric int8 with one float32 scale per output channel (row). */
export interface Int8Weight {
  values: Int8Array;
  scale: Float32Array;
}

export interface LinearWeights {
  /** [out_features, in_features] */
  weight: Tensor;
  /** [out_features] */
  bias: Tensor;
}

export interface LayerNormWeights {
  weight: Tensor;
  bias: Tensor;
}

export interface EmbeddingWeights {
  word: Tensor; // [vocab, hidden] ([vocab, embedding_size] for ALBERT)
  position: Tensor; // [max_positions, hidden]
  tokenType: Tensor; // [type_vocab, hidden]
  layerNorm: LayerNormWeights;
  /** ALBERT's embedding_hidden_mapping_in: [hidden, embedding_size], applied after the LayerNorm. */
  projection?: LinearWeights;
}

export interface EncoderLayerWeights {
  query: LinearWeights;
  key: LinearWeights;
  value: LinearWeights;
  attentionOutput: LinearWeights;
  attentionLayerNorm: LayerNormWeights;
  intermediate: LinearWeights;
  output: LinearWeights;
  outputLayerNorm: LayerNormWeights;
}

/**
 * pooler (act(dense(hidden[:, 0]))) followed by a linear classifier. The activation is BERT's tanh unless the
 * family's head says otherwise (RoBERTa: tanh, DistilBERT: relu, ELECTRA: gelu; see checkpoint/families.ts).
 */
export interface ClassifierHeadWeights {
  pooler: LinearWeights;
  classifier: LinearWeights;
  /** Default 'tanh'. */
  activation?: HeadActivation;
}

export type HeadActivation = 'tanh' | 'relu' | 'gelu';

export interface BertWeights {
  embeddings: EmbeddingWeights;
  layers: EncoderLayerWeights[];
  /**
   * heads[i] is the classifier evaluated on the output of encoder layer i (0-based), or undefined.
   * heads[numLayers - 1] is the model's final classifier. Length is always numLayers.
   */
  heads: (ClassifierHeadWeights | undefined)[];
  /**
   * DACT halting units (halting.safetensors, see halting.ts): halting[i] maps exit i's pooled vector to
   * one logit, h_i = sigmoid(·). Absent when the checkpoint has none; then dact uses the entropy stand-in.
   */
  halting?: (LinearWeights | undefined)[];
  /**
   * ALBERT: the inner layers each layer slot applies in turn (slot l applies its group's inner_group_num
   * layers); slots of one group hold the same array and the same objects. layers[l] is innerLayers[l][0].
   */
  innerLayers?: EncoderLayerWeights[][];
}

export type HiddenAct = 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'relu';

export interface BertConfig {
  modelType: string;
  architecture: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  hiddenAct: HiddenAct;
  /** Number of classifier outputs (0 for a bare BertModel). */
  numLabels: number;
  /** Label names by class index (defaults to LABEL_0, LABEL_1, ...). */
  labels: string[];
  padTokenId: number;
  /**
   * Heads removed per layer (original indices, ascending; [] for an intact layer), from config.json's
   * "pruned_heads" (see pruned-heads.ts); absent when no head was removed.
   */
  prunedHeads?: number[][];
  /** Present for parameter-shared (ALBERT) checkpoints; numLayers then counts applications of the groups. */
  albert?: AlbertShape;
  /**
   * How position ids are made: absent = 0..seq-1 (BERT); 'padding-offset' = RoBERTa/XLM-R's
   * cumsum(input_ids != pad) · (input_ids != pad) + pad_token_id, computed inside the embeddings graph.
   */
  positionIds?: 'padding-offset';
  /** ELECTRA's embedding_size when it differs from hidden_size (embeddings are projected up). */
  embeddingSize?: number;
  /** 'int8' when config.json marks linear weights as int8 (checkpoint/int8.ts): shards then run int8 kernels. */
  weightDtype?: 'int8';
}

export interface AlbertShape {
  embeddingSize: number;
  numHiddenGroups: number;
  innerGroupNum: number;
}

export type ExitLayout = 'deebert' | 'pabee' | 'none';

export interface Checkpoint {
  dir: string;
  config: BertConfig;
  weights: BertWeights;
  /** Which early-exit layout was found in the weights. */
  exitLayout: ExitLayout;
  /** Layers (0-based) that have a classifier head, ascending; includes the final layer when there is a classifier. */
  exitLayers: number[];
  /** Source dtype of the safetensors file ('F32', 'F16', 'BF16'; 'I8' for int8 linear weights; 'mixed' when tensors differ). */
  sourceDtype: string;
}
