#!/usr/bin/env node
// The coordinator's commands alone (the full `edgerelay` command, with `sim` and `demo`, is sim/cli/main.ts).
import { runCommandLine } from './run.js';

await runCommandLine();
