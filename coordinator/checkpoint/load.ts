/** Load a Hugging Face BERT model directory (config.json + model.safetensors) into memory. */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Checkpoint } from './types.js';
import { bareArchitecture, readBertConfig } from './config.js';
import { parseSafetensors } from './safetensors.js';
import { hasClassifierTensors, mapBertWeights } from './weights.js';
import { CheckpointNotFoundError } from './errors.js';
import { readHaltingUnits } from './halting.js';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

/** A Checkpoint plus what the loader noticed but did not need. */
export interface LoadedCheckpoint extends Checkpoint {
  /** Tensors in model.safetensors that the model does not use (worth a warning), in file order. */
  unusedTensors: string[];
}

const LAYOUT_HINT =
  `A Hugging Face model directory must contain ${CONFIG_FILE} (model_type "bert", "albert", "roberta", ` +
  `"xlm-roberta", "distilbert" or "electra") and ${WEIGHTS_FILE} ` +
  `(e.g. from model.save_pretrained(dir) with safe_serialization=True, or huggingface-cli download).`;

/** Load config.json and model.safetensors from `dir`. Tokenizer files are not read here. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const absDir = resolve(dir);
  if (!existsSync(absDir)) {
    throw new CheckpointNotFoundError(`Checkpoint directory ${absDir} does not exist. ${LAYOUT_HINT}`, {
      file: absDir,
    });
  }
  if (!statSync(absDir).isDirectory()) {
    throw new CheckpointNotFoundError(
      `${absDir} is not a directory; pass the model directory, not a file. ${LAYOUT_HINT}`,
      {
        file: absDir,
      },
    );
  }
  const configPath = join(absDir, CONFIG_FILE);
  const weightsPath = join(absDir, WEIGHTS_FILE);
  if (!existsSync(configPath)) {
    throw new CheckpointNotFoundError(`${absDir} has no ${CONFIG_FILE}. ${LAYOUT_HINT}`, { file: configPath });
  }
  if (!existsSync(weightsPath)) {
    throw new CheckpointNotFoundError(`${absDir} has no ${WEIGHTS_FILE}${otherWeightsHint(absDir)}. ${LAYOUT_HINT}`, {
      file: weightsPath,
    });
  }

  const parsed = readBertConfig(configPath);
  const file = parseSafetensors(await readFile(weightsPath), weightsPath);
  let config = parsed.config;
  // Without "architectures" the weights decide: no classifier tensors means a bare encoder.
  if (!parsed.architectureDeclared && !hasClassifierTensors(file)) {
    config = { ...config, architecture: bareArchitecture(config.modelType), numLabels: 0, labels: [] };
  }
  const mapped = mapBertWeights(
    file,
    config,
    parsed.earlyExitLayers ? { expectedExitLayers: parsed.earlyExitLayers } : {},
  );
  // Trained DACT halting units live in their own file beside the weights, so fitting them never rewrites the model.
  const halting = mapped.exitLayers.length > 1 ? readHaltingUnits(absDir, config, mapped.exitLayers) : undefined;
  return {
    dir: absDir,
    config,
    weights: halting ? { ...mapped.weights, halting } : mapped.weights,
    exitLayout: mapped.exitLayout,
    exitLayers: mapped.exitLayers,
    sourceDtype: mapped.sourceDtype,
    unusedTensors: mapped.unusedTensors,
  };
}

/** Say what to do when the weights exist in a format we do not read. */
function otherWeightsHint(dir: string): string {
  if (existsSync(join(dir, 'model.safetensors.index.json'))) {
    return ' (it has a sharded model.safetensors.index.json; merge the shards into one model.safetensors)';
  }
  if (existsSync(join(dir, 'pytorch_model.bin'))) {
    return ' (it has pytorch_model.bin; convert it with transformers: save_pretrained(dir, safe_serialization=True))';
  }
  return '';
}
