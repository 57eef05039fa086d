/**
 * `edgerelay fit-exits`: FastBERT-style self-distillation of exit heads for a checkpoint without them.
 * The backbone and final classifier stay frozen; each exit head (pooler + classifier, initialised
 * from the final ones, as FastBERT does, so training starts close) learns to match the final
 * classifier's distribution on unlabelled text. The result is a full model directory with the
 * heads in DeeBERT layout, which loadCheckpoint reads like any other exit model.
 */
import { resolve } from 'node:path';
import { loadCheckpoint, refuseInt8Checkpoint } from '../checkpoint/index.js';
import type { Checkpoint, ClassifierHeadWeights } from '../checkpoint/types.js';
import { EdgeRelayError } from '@edgerelay/proto';
import { loadTokenizer } from '../tokenizer/index.js';
import { readTextExamples } from '../datasets/index.js';
import { collectClsFeatures } from './features.js';
import { forwardHead, klLoss, softmaxRows, type HeadParams } from './head.js';
import { trainHead, type TrainOptions } from './train.js';
import { writeModelWithHeads } from './write.js';

export class FitExitsError extends EdgeRelayError {
  override readonly code: string = 'EDGERELAY_FIT_EXITS';
}

export interface FitExitsOptions extends TrainOptions {
  model: string;
  data: string;
  /** Output model directory (default: `<model>-exits` beside the model). */
  out?: string;
  /** 0-based layers to fit heads after (default: every layer but the last). */
  layers?: number[];
  /** Share of the text kept apart to report the loss on unseen rows. */
  validation?: number;
  threads?: number;
  maxLength?: number;
  onProgress?: (done: number, total: number) => void;
  onLayer?: (report: LayerFit) => void;
}

export interface LayerFit {
  /** 0-based layer the head reads. */
  layer: number;
  trainBefore: number;
  trainAfter: number;
  validationBefore?: number;
  validationAfter?: number;
}

export interface FitExitsResult {
  out: string;
  exitLayers: number[];
  layers: LayerFit[];
  trainRows: number;
  validationRows: number;
  seconds: number;
}

export async function fitExits(options: FitExitsOptions): Promise<FitExitsResult> {
  const started = performance.now();
  const checkpoint = await loadCheckpoint(options.model);
  refuseInt8Checkpoint(checkpoint, 'fitting exit heads');
  const { numLayers, numLabels } = checkpoint.config;
  const final = checkpoint.weights.heads[numLayers - 1];
  if (!final || numLabels === 0) {
    throw new FitExitsError(
      `${checkpoint.dir} has no final classifier to distil from; fit-exits needs a *ForSequenceClassification checkpoint.`,
    );
  }
  const layers = options.layers ?? Array.from({ length: numLayers - 1 }, (_, i) => i);
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= numLayers - 1) {
      throw new FitExitsError(
        `Cannot fit an exit after layer ${l}: exits go after layers 0..${numLayers - 2} (the last layer has the final classifier).`,
      );
    }
  }
  const out = resolve(options.out ?? `${checkpoint.dir.replace(/\/+$/, '')}-exits`);
  if (out === checkpoint.dir)
    throw new FitExitsError(
      `--out ${out} is the model directory itself; choose another directory so the original stays intact.`,
    );

  const { texts } = readTextExamples(options.data);
  const features = await collectClsFeatures(checkpoint, loadTokenizer(options.model), texts, options);
  const init = headParams(final, checkpoint);
  // The teacher: the final classifier on the last layer's [CLS], exactly what the model answers.
  const teacher = softmaxRows(forwardHead(init, features.byLayer[numLayers - 1]!, 0, texts.length).logits, numLabels);

  const valCount = Math.min(texts.length - 1, Math.round(texts.length * (options.validation ?? 0.1)));
  const trainCount = texts.length - valCount;
  const H = features.hidden;
  const fits: LayerFit[] = [];
  const heads = new Map<number, HeadParams>();
  for (const layer of [...new Set(layers)].sort((a, b) => a - b)) {
    const all = features.byLayer[layer]!;
    // The last valCount rows are kept apart (the input order is the file's order).
    const x = all.subarray(0, trainCount * H);
    const q = teacher.subarray(0, trainCount * numLabels);
    const trained = trainHead(init, x, q, options);
    const fit: LayerFit = { layer, trainBefore: trained.trainBefore, trainAfter: trained.trainAfter };
    if (valCount > 0) {
      fit.validationBefore = klLoss(init, all, teacher, trainCount, valCount);
      fit.validationAfter = klLoss(trained.params, all, teacher, trainCount, valCount);
    }
    heads.set(layer, trained.params);
    fits.push(fit);
    options.onLayer?.(fit);
  }
  writeModelWithHeads(checkpoint, out, heads);
  return {
    out,
    exitLayers: [...heads.keys(), numLayers - 1],
    layers: fits,
    trainRows: trainCount,
    validationRows: valCount,
    seconds: (performance.now() - started) / 1000,
  };
}

function headParams(head: ClassifierHeadWeights, checkpoint: Checkpoint): HeadParams {
  return {
    hidden: checkpoint.config.hiddenSize,
    classes: checkpoint.config.numLabels,
    poolerWeight: head.pooler.weight.data.slice(),
    poolerBias: head.pooler.bias.data.slice(),
    classifierWeight: head.classifier.weight.data.slice(),
    classifierBias: head.classifier.bias.data.slice(),
    // The family's head form (RoBERTa tanh, DistilBERT relu, ELECTRA gelu): the exit starts as the final head.
    ...(head.activation && { activation: head.activation }),
  };
}
