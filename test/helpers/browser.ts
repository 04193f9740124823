import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Debian's chromium, as .ci/run installs it (CHROMIUM overrides). */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/**
 * Whether browser tests can run. Outside CI a missing chromium skips them
 * with a loud message; in CI (CI=true) it fails, since .ci/run installs it.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM) && spawnSync(CHROMIUM, ['--version'], { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing, and browser tests must run in CI (apt-get install chromium)`);
  console.error(`\n*** ${CHROMIUM} not found: SKIPPING browser tests (apt-get install chromium) ***\n`);
  return false;
}

/** Headless chromium with the flags this machine's closed network needs (no background fetches, no sandbox as root). */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}
