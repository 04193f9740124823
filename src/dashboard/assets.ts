import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built bundle (scripts/build-dashboard.mjs): file name -> bytes and type, plus which files the page loads. */
export interface Assets {
  readonly js: string;
  readonly css: string;
  readonly files: ReadonlyMap<string, { readonly body: Buffer; readonly type: string }>;
}

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * Reads the bundle once, at start: its files are few and small, and served
 * from memory under content-hashed names. Found beside this module (dist/
 * dashboard/public), else in the package's dist/ (the tests run this module
 * compiled elsewhere). undefined: not built (`npm run build` builds it).
 */
export function loadAssets(from = dirname(fileURLToPath(import.meta.url))): Assets | undefined {
  const dir = publicDir(from);
  if (dir === undefined) return undefined;
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { js: string; css: string };
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type !== undefined && name !== 'manifest.json') files.set(name, { body: readFileSync(join(dir, name)), type });
  }
  if (!files.has(manifest.js) || !files.has(manifest.css)) return undefined;
  return { js: manifest.js, css: manifest.css, files };
}

function publicDir(from: string): string | undefined {
  const beside = join(from, 'public');
  if (existsSync(join(beside, 'manifest.json'))) return beside;
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      const built = join(dir, 'dist', 'dashboard', 'public');
      return existsSync(join(built, 'manifest.json')) ? built : undefined;
    }
  }
  return undefined;
}
