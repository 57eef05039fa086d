#!/usr/bin/env node
// The `edgerelay` command: every coordinator command, plus `sim` and `demo`, which start a simulated
// cluster and so live here, above the coordinator in the dependency chain.
import { runCommandLine } from '@edgerelay/coordinator';

await runCommandLine(async (program) => {
  const { registerSim } = await import('./sim.js');
  const { registerDemo } = await import('./demo.js');
  registerSim(program);
  registerDemo(program);
});
