import { Command } from 'commander';
import { registerConvert } from './convert.js';
import { registerEval } from './eval.js';
import { registerInfer } from './infer.js';
import { registerInitRandom } from './init-random.js';
import { registerCoordinator } from './coordinator.js';
import { registerPlan } from './plan.js';
import { registerCalibrate } from './calibrate.js';
import { registerFitExits } from './fit-exits.js';
import { registerFitHalting } from './fit-halting.js';
import { registerCerts } from './certs.js';
import { registerStatus } from './status.js';
import { registerPruneHeads } from './prune-heads.js';

export function buildProgram(): Command {
  const program = new Command('edgerelay')
    .description('Run BERT-like encoders across a cluster of small edge devices, with early exit.')
    .version('0.1.0');
  registerInfer(program);
  registerEval(program);
  registerInitRandom(program);
  registerCoordinator(program);
  registerConvert(program);
  registerPlan(program);
  registerCalibrate(program);
  registerFitExits(program);
  registerFitHalting(program);
  registerCerts(program);
  registerStatus(program);
  registerPruneHeads(program);
  return program;
}
