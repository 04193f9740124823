// Bundles the dashboard's browser code (src/dashboard/ui) into
// dist/dashboard/public: app-<hash>.js and app-<hash>.css (names that change
// with their content, so the server can serve them as immutable), and
// manifest.json naming both for the HTML shell. Everything is bundled:
// the page fetches nothing from anywhere else.
import { build } from 'esbuild';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = join(root, 'src/dashboard/ui/main.tsx');
const outdir = join(root, 'dist/dashboard/public');
const BUNDLE_FILE = /^app-[A-Za-z0-9]+\.(js|css)(\.map)?$/;

async function main() {
  const started = performance.now();
  await mkdir(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    outdir,
    entryNames: 'app-[hash]',
    format: 'esm',
    target: 'es2020',
    platform: 'browser',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    // A separate map for the browser's developer tools; nothing inline.
    sourcemap: 'linked',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const { js, css } = outputsOf(result.metafile);
  await writeFile(join(outdir, 'manifest.json'), `${JSON.stringify({ js, css }, null, 2)}\n`);
  await removeOlderBundles(new Set([js, css, `${js}.map`, `${css}.map`]));
  const ms = Math.round(performance.now() - started);
  console.log(`dashboard: ${relative(root, outdir)}/{${js},${css}} in ${ms} ms`);
}

/** The entry's JS file and the CSS bundle esbuild emitted beside it, by file name. */
function outputsOf(metafile) {
  const entryPoint = relative(root, entry).split('\\').join('/');
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (output.entryPoint !== entryPoint || !path.endsWith('.js')) continue;
    if (output.cssBundle === undefined) throw new Error('the dashboard built no CSS: main.tsx must import style.css');
    return { js: basename(path), css: basename(output.cssBundle) };
  }
  throw new Error(`esbuild reported no output for ${entryPoint}`);
}

/** Earlier builds' bundles: the folder keeps only what the manifest names. */
async function removeOlderBundles(keep) {
  for (const name of await readdir(outdir)) {
    if (BUNDLE_FILE.test(name) && !keep.has(name)) await rm(join(outdir, name));
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
