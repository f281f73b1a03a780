import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...files(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Relative import specifiers of a file, resolved to repo-relative paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(dirname(file), s)));
}

describe('layering', () => {
  it('connectors import only src/core and src/scim (and their own folder)', () => {
    const offenders: string[] = [];
    for (const file of files(join(root, 'connectors'))) {
      if (file.endsWith('connectors/index.ts')) continue; // the registry lists the connectors
      const own = relative(root, dirname(file));
      for (const target of imports(file)) {
        const ok = target.startsWith('src/core/') || target.startsWith('src/scim/') || target.startsWith(own + '/') || target.startsWith(own);
        if (!ok) offenders.push(`${relative(root, file)} → ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('src/core imports no connector and nothing above it', () => {
    const offenders: string[] = [];
    for (const file of files(join(root, 'src', 'core'))) {
      for (const target of imports(file)) if (!target.startsWith('src/core/')) offenders.push(`${relative(root, file)} → ${target}`);
    }
    expect(offenders).toEqual([]);
  });

  it('the planner does no I/O and reads no clock', () => {
    const offenders: string[] = [];
    for (const file of files(join(root, 'src', 'plan'))) {
      const text = readFileSync(file, 'utf8');
      for (const banned of ["from 'node:fs", "from 'node:child_process", "from 'node:net", 'Date.now(', 'new Date(', 'Math.random(', 'performance.now(']) {
        if (text.includes(banned)) offenders.push(`${relative(root, file)} uses ${banned}`);
      }
      for (const target of imports(file)) {
        if (!(target.startsWith('src/plan/') || target.startsWith('src/core/'))) offenders.push(`${relative(root, file)} → ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the layering check itself sees imports (guards against a regex that matches nothing)', () => {
    expect(imports(join(root, 'connectors', 'csv', 'index.ts')).some((t) => t.startsWith('src/core/'))).toBe(true);
  });
});
