#!/usr/bin/env node
// Runs the compiled device agent; `npm ci` builds every package's dist/.
import('@edgerelay/device-agent/main').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write(
      'edgerelay-agent: the compiled code is missing; run `npm run build` in the edgerelay folder.\n',
    );
    process.exit(1);
  }
  throw err;
});
