import { existsSync } from 'node:fs';

/** A Chromium binary for browser tests: EDGERELAY_CHROMIUM, or Debian's package (scripts/ensure-chromium.sh). */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.EDGERELAY_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => !!p && existsSync(p));
}
