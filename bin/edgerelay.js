#!/usr/bin/env node
// Runs the compiled CLI (assembled in the sim package); `npm ci` builds every package's dist/.
import('@edgerelay/sim/cli').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('edgerelay: the compiled code is missing; run `npm run build` in the edgerelay folder.\n');
    process.exit(1);
  }
  throw err;
});
