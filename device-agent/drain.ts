/** How long nothing must be in flight before a draining agent counts as quiet. */
const QUIET_MS = 300;
const POLL_MS = 50;

/**
 * Resolves once `inFlight()` has been zero for a little while (requests of the old plan may still
 * arrive just after the last one finished), or after `maxMs` whatever is still running.
 */
export async function waitUntilQuiet(inFlight: () => number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    if (inFlight() > 0) quietSince = Date.now();
    else if (Date.now() - quietSince > QUIET_MS) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
