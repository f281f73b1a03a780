import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in scim-sync's own package.json, read once at module load. Walking up from this
 * module finds it both from the sources (src/engine, under vitest) and from the build
 * (dist/src/engine), which sit at different depths below the package root.
 *
 * Part of the verified no-op key: a new release may plan differently from the same inputs, so a
 * no-op verified by an older release must not be reused.
 */
function findVersion(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'scim-sync' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No (readable) package.json here: keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Not found (an unusual install layout): without it an upgrade could not be told apart, so the
  // engine then never skips a read.
  return undefined;
}

export const TOOL_VERSION = findVersion();
