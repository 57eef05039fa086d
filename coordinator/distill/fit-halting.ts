/**
 * `edgerelay fit-halting`: train one DACT halting unit per exit (every exit but the last) of a
 * checkpoint whose backbone and exit heads stay frozen, with DACT's objective (halting.ts): the
 * cross-entropy of the accumulated answer against the label (labelled TSV) or against the final
 * exit's distribution (plain text, self-distillation as fit-exits does), plus τ × the ponder cost.
 * The units are written to halting.safetensors beside the checkpoint (checkpoint/halting.ts), where
 * loadCheckpoint finds them.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HALTING_FILE, loadCheckpoint, writeHaltingUnits, type ClassifierHeadWeights } from '../checkpoint/index.js';
import { CALIBRATION_FILE } from '../calibration/store.js';
import { readTextExamples } from '../datasets/index.js';
import { EdgeRelayError } from '@edgerelay/proto';
import { loadTokenizer } from '../tokenizer/index.js';
import { collectClsFeatures } from './features.js';
import { forwardHead, softmaxRows, type HeadParams } from './head.js';
import {
  haltingGradient,
  haltingObjective,
  zeroHalting,
  type HaltingData,
  type HaltingObjective,
  type HaltingParams,
} from './halting.js';
import { adamTrain, type TrainOptions } from './train.js';

export class FitHaltingError extends EdgeRelayError {
  override readonly code = 'E_FIT_HALTING';
}

/** DACT's GQA runs used τ from 1e-3 to 5e-2; 1e-2 is the middle of that range. */
export const DEFAULT_PONDER = 0.01;

export interface FitHaltingOptions extends TrainOptions {
  model: string;
  data: string;
  /** τ, the weight of the ponder cost. */
  ponder?: number;
  /** Model directory to write (a copy of the model plus the units); default: the model directory itself. */
  out?: string;
  /** Share of the rows (the file's last lines) kept apart to report the objective on. */
  validation?: number;
  threads?: number;
  maxLength?: number;
  onProgress?: (done: number, total: number) => void;
  onEpoch?: (epoch: number, epochs: number) => void;
}

export interface FitHaltingResult {
  out: string;
  /** 0-based exit layers that got a unit. */
  unitLayers: number[];
  ponder: number;
  /** 'label' for a labelled TSV, 'final-exit' for plain text. */
  target: 'label' | 'final-exit';
  trainRows: number;
  validationRows: number;
  trainBefore: HaltingObjective;
  trainAfter: HaltingObjective;
  validationBefore?: HaltingObjective;
  validationAfter?: HaltingObjective;
  seconds: number;
}

export async function fitHalting(options: FitHaltingOptions): Promise<FitHaltingResult> {
  const started = performance.now();
  const checkpoint = await loadCheckpoint(options.model);
  const { numLabels, hiddenSize: H } = checkpoint.config;
  const exits = checkpoint.exitLayers;
  if (numLabels === 0 || exits.length < 2) {
    throw new FitHaltingError(
      `${checkpoint.dir} has ${exits.length} classifier head(s); halting units need exit heads before the final classifier. Give it heads first: edgerelay fit-exits --model ${options.model} --data FILE.`,
    );
  }
  const tau = options.ponder ?? DEFAULT_PONDER;
  if (!(tau >= 0) || !Number.isFinite(tau))
    throw new FitHaltingError(`--ponder ${tau} is not a non-negative number; DACT used values from 0.001 to 0.05.`);
  const out = resolve(options.out ?? checkpoint.dir);

  const { texts, labels } = readTextExamples(options.data);
  if (texts.length < 2)
    throw new FitHaltingError(`${options.data} holds ${texts.length} example; fit-halting needs at least 2.`);
  const features = await collectClsFeatures(checkpoint, loadTokenizer(options.model), texts, options);
  const n = texts.length;
  // The frozen heads, run once: each exit's pooled vector (the unit's input) and its distribution.
  const pooled: Float64Array[] = [];
  const probs: Float64Array[] = [];
  for (const layer of exits) {
    const f = forwardHead(headParams(checkpoint.weights.heads[layer]!, H, numLabels), features.byLayer[layer]!, 0, n);
    pooled.push(f.pooled);
    probs.push(softmaxRows(f.logits, numLabels));
  }
  const target = labels ? oneHot(labels, numLabels, options.data) : probs[probs.length - 1]!.slice();
  const data: HaltingData = { rows: n, classes: numLabels, hidden: H, pooled: pooled.slice(0, -1), probs, target };

  const valCount = Math.min(n - 1, Math.round(n * (options.validation ?? 0.1)));
  const trainCount = n - valCount;
  // Units start at h = 1/2 everywhere (zero weights and bias): no input is favoured before training.
  const params: HaltingParams = zeroHalting(H, exits.length - 1);
  const trainBefore = haltingObjective(params, data, tau, 0, trainCount);
  const validationBefore = valCount > 0 ? haltingObjective(params, data, tau, trainCount, valCount) : undefined;
  // The validation rows are the last ones; the trainer only ever sees rows 0..trainCount−1.
  adamTrain(
    { weight: params.weight, bias: params.bias },
    trainCount,
    (rows) => ({ ...haltingGradient(params, data, tau, rows) }),
    {
      epochs: options.epochs ?? 40,
      batchSize: options.batchSize ?? 32,
      learningRate: options.learningRate ?? 0.01,
      seed: options.seed ?? 0,
      ...(options.onEpoch && { onEpoch: options.onEpoch }),
    },
  );
  const trainAfter = haltingObjective(params, data, tau, 0, trainCount);
  const validationAfter = valCount > 0 ? haltingObjective(params, data, tau, trainCount, valCount) : undefined;

  if (out !== checkpoint.dir) copyModelDirectory(checkpoint.dir, out);
  const unitLayers = exits.slice(0, -1);
  writeHaltingUnits(
    join(out, HALTING_FILE),
    unitLayers.map((layer, k) => ({ layer, weight: params.weight.slice(k * H, (k + 1) * H), bias: params.bias[k]! })),
    H,
    {
      ponder: String(tau),
      target: labels ? 'label' : 'final-exit',
      data: resolve(options.data),
      rows: String(trainCount),
    },
  );
  return {
    out,
    unitLayers,
    ponder: tau,
    target: labels ? 'label' : 'final-exit',
    trainRows: trainCount,
    validationRows: valCount,
    trainBefore,
    trainAfter,
    ...(validationBefore && { validationBefore }),
    ...(validationAfter && { validationAfter }),
    seconds: (performance.now() - started) / 1000,
  };
}

function headParams(head: ClassifierHeadWeights, hidden: number, classes: number): HeadParams {
  return {
    hidden,
    classes,
    poolerWeight: head.pooler.weight.data,
    poolerBias: head.pooler.bias.data,
    classifierWeight: head.classifier.weight.data,
    classifierBias: head.classifier.bias.data,
    ...(head.activation && { activation: head.activation }),
  };
}

function oneHot(labels: number[], classes: number, file: string): Float64Array {
  const t = new Float64Array(labels.length * classes);
  labels.forEach((label, r) => {
    if (!Number.isInteger(label) || label < 0 || label >= classes)
      throw new FitHaltingError(
        `${file} row ${r + 1} has label ${label}; the model has ${classes} classes (0..${classes - 1}).`,
      );
    t[r * classes + label] = 1;
  });
  return t;
}

/**
 * The model's files (weights, config, tokenizer) into `out`, so the units can be written beside a copy
 * and the source stays untouched. An old halting file or calibration is not copied: it would describe
 * other units.
 */
function copyModelDirectory(from: string, out: string): void {
  if (existsSync(out) && !statSync(out).isDirectory())
    throw new FitHaltingError(`--out ${out} exists and is not a directory; pass a directory.`);
  mkdirSync(out, { recursive: true });
  for (const name of readdirSync(from)) {
    if (name === HALTING_FILE || name === CALIBRATION_FILE) continue;
    const path = join(from, name);
    if (statSync(path).isFile()) copyFileSync(path, join(out, name));
  }
}
