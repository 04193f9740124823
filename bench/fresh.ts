/**
 * `npm run bench` runs `npm run build` (src -> dist/) but then executes
 * dist-test/, which only `tsc -p tsconfig.json` refreshes. Finds the sources
 * whose dist-test output is missing or older, so a stale build is never measured silently.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -Infinity;
  }
}

// The dashboard's browser code is bundled into dist/ by scripts/build-dashboard.mjs, never compiled to dist-test/.
const BROWSER_CODE = join('src', 'dashboard', 'ui');

/** Source files (relative to root) under src/ and bench/ that are newer than their compiled dist-test/ file. */
export function staleSources(root: string): string[] {
  const sources = [...tsFiles(join(root, 'src')), ...tsFiles(join(root, 'bench'))];
  return sources
    .map((file) => relative(root, file))
    .filter((rel) => !rel.startsWith(BROWSER_CODE))
    .filter((rel) => mtime(join(root, 'dist-test', rel.replace(/\.ts$/, '.js'))) < mtime(join(root, rel)));
}
