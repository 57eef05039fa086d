import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CheckpointNotFoundError, CONFIG_FILE, readBertConfig, WEIGHTS_FILE } from '../checkpoint/index.js';
import type { BertConfig } from '../checkpoint/types.js';
import { sharedLayerShape } from './shared-layers.js';
import type { PlannerModel } from './cost-model.js';

/**
 * What the planner needs of a model, read without loading its weights: config.json, and for the
 * exit layers either its "early_exit_layers" or the tensor names in model.safetensors' header.
 * A directory holding config.json alone is enough (only the final exit is then assumed).
 */
export function readPlannerModel(dir: string): PlannerModel {
  const abs = resolve(dir);
  const configPath = join(abs, CONFIG_FILE);
  if (!existsSync(configPath)) {
    throw new CheckpointNotFoundError(
      `${abs} has no ${CONFIG_FILE}; the planner needs the model's config.json (the weights are optional).`,
      {
        file: configPath,
      },
    );
  }
  const { config, earlyExitLayers } = readBertConfig(configPath);
  const final = config.numLayers - 1;
  const weightsPath = join(abs, WEIGHTS_FILE);
  const early = earlyExitLayers ?? (existsSync(weightsPath) ? exitLayersFromHeader(weightsPath, config.numLayers) : []);
  const exitLayers = [...new Set([...early.filter((l) => l < final), final])].sort((a, b) => a - b);
  return plannerModelOf(abs, config, exitLayers);
}

/**
 * The planner's view of a model from its config and exit layers: for a directory (readPlannerModel) and for
 * the coordinator's loaded checkpoint alike. `odeSteps`: the deployment's, for a parameter-shared model.
 */
export function plannerModelOf(
  modelId: string,
  config: BertConfig,
  exitLayers: number[],
  odeSteps?: number,
): PlannerModel {
  return {
    modelId,
    numLayers: config.numLayers,
    numHeads: config.numHeads,
    intermediateSize: config.intermediateSize,
    // A config without a classifier still plans as one: the coordinator refuses bare encoders anyway.
    numLabels: Math.max(config.numLabels, 1),
    exitLayers,
    hiddenSize: config.hiddenSize,
    vocabSize: config.vocabSize,
    maxPositions: config.maxPositions,
    typeVocabSize: config.typeVocabSize,
    ...sharedLayerShape(config, odeSteps),
    ...(config.prunedHeads && { prunedHeads: config.prunedHeads }),
    ...(config.weightDtype && { weightDtype: config.weightDtype }),
  };
}

/** Early exits in DeeBERT (`encoder.highway.{i}`, DistilBERT's `transformer.highway.{i}`) or PABEE (`classifiers.{i}`) layout, from the header only. */
function exitLayersFromHeader(path: string, numLayers: number): number[] {
  const names = safetensorsTensorNames(path);
  const layers = new Set<number>();
  for (const n of names) {
    const m =
      /(?:^|\.)(?:encoder|transformer)\.highway\.(\d+)\.classifier\.weight$/.exec(n) ??
      /^classifiers\.(\d+)\.weight$/.exec(n);
    if (m && Number(m[1]) < numLayers) layers.add(Number(m[1]));
  }
  return [...layers];
}

function safetensorsTensorNames(path: string): string[] {
  const fd = openSync(path, 'r');
  try {
    const prefix = Buffer.alloc(8);
    if (readSync(fd, prefix, 0, 8, 0) < 8) return [];
    const length = Number(prefix.readBigUInt64LE(0));
    if (length <= 0 || length > Math.min(100_000_000, statSync(path).size - 8)) return [];
    const header = Buffer.alloc(length);
    readSync(fd, header, 0, length, 8);
    const parsed = JSON.parse(header.toString('utf8')) as Record<string, unknown>;
    return Object.keys(parsed).filter((k) => k !== '__metadata__');
  } catch {
    return []; // a broken file is loadCheckpoint's to report; the planner then assumes the final exit only
  } finally {
    closeSync(fd);
  }
}
