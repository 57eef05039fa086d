/**
 * A launcher for the orphan test: starts two agents through the sim API, pointed at a coordinator
 * that does not exist (so they would retry forever), prints their pids once they run, and idles
 * until someone kills it.
 */
import { startAgentProcess } from '../../sim/agent-process.js';

const dataDir = process.argv[2]!;
const agents = [0, 1].map((i) =>
  startAgentProcess({ name: `orphan-${i}`, coordinator: '127.0.0.1:1', dataDir, threads: 1, logLevel: 'warn' }),
);
// A failed registration is logged after start-up, so by then the agent's stdin watch is armed.
await Promise.all(
  agents.map(
    (a) =>
      new Promise<void>((resolve) => {
        const check = () => (a.stderrTail().includes('not reachable') ? resolve() : setTimeout(check, 50));
        check();
      }),
  ),
);
process.stdout.write(`${JSON.stringify({ pids: agents.map((a) => a.child.pid) })}\n`);
setInterval(() => undefined, 60_000);
