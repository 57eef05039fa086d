import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ComputeStretch } from './emulation.js';
import type { HostSpeed } from './host-speed.js';

/** How often an agent publishes its figures and reads the others'. */
const SHARE_INTERVAL_MS = 500;

interface Published {
  referenceGflops: number;
  cleanestCpuMs: Record<string, number>;
}

/**
 * The emulated agents of one machine pool what they measure of it (sim/): the fastest reference speed and the
 * cleanest CPU time of each kind of work. The same work on the same machine is the same cost, but each
 * agent alone sees a different cleanest time (the group host decodes more frames while it computes, so its
 * runs are rarely clean); alone, identical members of a group became stragglers of each other by 10-20%.
 * Each agent writes its figures to a file of its own in a shared folder and takes the best of the others'.
 */
export class EmulationSharing {
  private readonly timer: NodeJS.Timeout;
  private readonly file: string;

  constructor(
    private readonly dir: string,
    name: string,
    private readonly stretch: ComputeStretch,
    private readonly reference: HostSpeed | undefined,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${name}.json`);
    this.timer = setInterval(() => this.share(), SHARE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Publish this agent's figures, then take the others' where they are better. */
  share(): void {
    const own: Published = {
      referenceGflops: this.reference?.gflops ?? 0,
      cleanestCpuMs: this.stretch.cleanestCpuMs(),
    };
    try {
      // Written aside and renamed, so a reader never sees half a file.
      writeFileSync(`${this.file}.tmp`, JSON.stringify(own));
      renameSync(`${this.file}.tmp`, this.file);
      for (const f of readdirSync(this.dir)) {
        if (!f.endsWith('.json') || path.join(this.dir, f) === this.file) continue;
        const other = JSON.parse(readFileSync(path.join(this.dir, f), 'utf8')) as Partial<Published>;
        if (typeof other.referenceGflops === 'number') this.reference?.offer(other.referenceGflops);
        if (other.cleanestCpuMs && typeof other.cleanestCpuMs === 'object')
          this.stretch.mergeCleanest(other.cleanestCpuMs);
      }
    } catch {
      // Sharing only refines the emulation: a folder that went away or a file being replaced costs nothing.
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
