import { loadCheckpoint } from '../checkpoint/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { ReferenceRunner } from './runner.js';

export interface ModelOptions {
  model: string;
  threads?: number;
  maxLength?: number;
  /** ODE steps K of a parameter-shared model (default: every layer). */
  odeSteps?: number;
}

/** checkpoint → tokenizer → reference runner, the way every single-node command starts. */
export async function openReferenceModel(options: ModelOptions) {
  const checkpoint = await loadCheckpoint(options.model);
  const tokenizer = loadTokenizer(options.model);
  const runner = await ReferenceRunner.create(checkpoint, tokenizer, {
    threads: options.threads,
    maxLength: options.maxLength,
    odeSteps: options.odeSteps,
  });
  return { checkpoint, tokenizer, runner };
}
