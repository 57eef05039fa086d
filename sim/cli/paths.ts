import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The edgerelay checkout (the workspace root, with the bundled model), found from this module in source or dist/. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (
    !existsSync(path.join(dir, 'package.json')) ||
    !readFileSync(path.join(dir, 'package.json'), 'utf8').includes('"workspaces"')
  ) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the edgerelay package folder');
    dir = parent;
  }
  return dir;
}
