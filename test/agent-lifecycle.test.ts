import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Alive and not a zombie (a zombie is dead; only its parent has not reaped it yet). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: kill(0) is all we have
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return condition();
}

describe('simulated-cluster agent processes', function () {
  this.timeout(90_000);

  it('exit within a few seconds when their launcher is killed with SIGKILL', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'edgerelay-orphan-'));
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=development', path.join('test', 'helpers', 'orphan-parent.ts'), dataDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let pids: number[] = [];
    try {
      pids = await new Promise<number[]>((resolve, reject) => {
        let out = '';
        let err = '';
        parent.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        parent.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve((JSON.parse(line) as { pids: number[] }).pids);
        });
        parent.once('exit', (code) => reject(new Error(`launcher exited (${code}) before its agents ran:\n${err}`)));
      });
      assert.equal(pids.length, 2);
      assert.ok(pids.every(alive), 'agents run while their launcher lives');

      parent.kill('SIGKILL');
      const gone = await waitUntil(() => !pids.some(alive), 5000);
      assert.ok(gone, `agents still running 5 s after their launcher died: ${pids.filter(alive).join(', ')}`);
    } finally {
      parent.kill('SIGKILL');
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
