import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { send } from '../helpers/http.js';
import { samples } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';
import { label } from '../helpers/workers.js';
import { chromiumAvailable, launchBrowser } from '../helpers/browser.js';

/**
 * The dashboard in a real browser (Debian's chromium driven by
 * playwright-core) against a real gateway, origin and traffic. Its
 * screenshots land in test-artifacts/dashboard/ (SCREENSHOTS_DIR; the
 * README's, docs/dashboard/, come from `npm run screenshots`).
 */
const TOKEN = 'browser-dashboard-token-0123456789';
// Test artifacts by default; `npm run screenshots` writes the README's (docs/dashboard/) from the same run.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHOTS = join(ROOT, process.env.SCREENSHOTS_DIR ?? 'test-artifacts/dashboard', '/');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const available = chromiumAvailable();

let browser: Browser;
let up: TestUpstream;
let gw: TestGateway;

before(async () => {
  if (!available) return;
  mkdirSync(SHOTS, { recursive: true });
  up = await startUpstream((_req, res) => res.end('ok'));
  // /api never refuses (a client can be flooded, blocked and unblocked); /tight refuses past 3 (the overview's limited count).
  gw = await startGateway(`admin: { tokens: [ { id: ops, token: "${TOKEN}" } ] }
adaptive: { mode: shadow }
rate_limit: { requests_per_second: 1000, burst: 1000, key: ["header:x-api-key", "ip"] }
routes:
  - { path: /api, upstream: "${up.url}" }
  - path: /tight
    upstream: "${up.url}"
    rate_limit: { requests_per_second: 0.01, burst: 3, key: ["header:x-api-key", "ip"] }
`);
  browser = await launchBrowser();
});
after(async () => {
  if (!available) return;
  await browser?.close();
  await gw?.close();
  await up?.close();
});

/** A page signed in through the form, with no console error, CSP report or dialog allowed to pass unnoticed. */
async function signedIn(viewport = DESKTOP, colorScheme: 'light' | 'dark' = 'light'): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    // A failed sign-in is a 401, which the browser reports as a failed resource load.
    if (m.type() === 'error' && !m.text().includes('401')) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(`${gw.adminUrl}/dashboard/`);
  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  return { page, problems };
}

const traffic = async (path: string, key: string, n: number, headers: Record<string, string> = {}) => {
  for (let i = 0; i < n; i++) await send(gw.url, path, { headers: { 'x-api-key': key, ...headers } });
};

test('sign-in: a wrong token is refused, the right one admitted; an action without the CSRF token is refused; sign-out ends the session', { skip: !available }, async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  await page.goto(`${gw.adminUrl}/dashboard/`);
  assert.match(page.url(), /\/dashboard\/login$/);
  await page.getByLabel('Admin token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'That is not an admin token.' }).waitFor();
  await page.screenshot({ path: `${SHOTS}login-desktop.png` });
  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();

  // The page's own origin and cookie, without the CSRF header: refused, and nothing set.
  const status = await page.evaluate(async () => (await fetch('/v1/limits/ip:127.0.0.1', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"block":true}' })).status);
  assert.equal(status, 403);
  assert.equal((await send(gw.url, '/api/x')).status, 200);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/dashboard\/login$/);
  await page.goto(`${gw.adminUrl}/dashboard/`);
  assert.match(page.url(), /\/dashboard\/login$/, 'the session is gone');
  await context.close();
});

test('clients: a flooding client is at the top; blocking it from the page refuses its next request (403), unblocking lets it through', { skip: !available }, async () => {
  const { page, problems } = await signedIn();
  const flooder = label('flooding-client');
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
  await traffic('/api/f', 'flooding-client', 60);
  await traffic('/api/q', 'quiet-client', 3);
  const firstRow = page.locator('tbody tr').first();
  await waitFor('the flooder at the top', async () => (await firstRow.locator('td').first().textContent()) === flooder, 10_000, 100);
  await page.screenshot({ path: `${SHOTS}clients-desktop.png` });

  const actions = page.getByRole('group', { name: `Actions for ${flooder}` });
  await actions.getByRole('button', { name: 'Block', exact: true }).click();
  const dialog = page.locator('dialog[open]');
  await dialog.getByRole('heading', { name: 'Block' }).waitFor();
  await dialog.getByRole('button', { name: 'Block', exact: true }).click();
  await waitFor('the block to bind at the gateway', async () => (await send(gw.url, '/api/f', { headers: { 'x-api-key': 'flooding-client' } })).status === 403, 5_000, 50);
  await actions.getByRole('button', { name: 'Unblock', exact: true }).waitFor({ timeout: 5_000 });
  const audit = gw.logs.find((l) => l.audit === 'override_set' && l.key === flooder);
  assert.equal(audit?.who, 'ops', 'audited under the signed-in token id');
  await actions.getByRole('button', { name: 'Unblock', exact: true }).click();
  await dialog.getByRole('button', { name: 'Unblock', exact: true }).click();
  await waitFor('unblocked at the gateway', async () => (await send(gw.url, '/api/f', { headers: { 'x-api-key': 'flooding-client' } })).status === 200, 5_000, 50);
  assert.deepEqual(problems, []);
});

test('overview: the request rate moves while traffic runs, and the limited count equals /metrics', { skip: !available }, async () => {
  const { page, problems } = await signedIn();
  const rateCard = page.locator('.card').filter({ hasText: 'Requests/s now' }).locator('dd').first();
  const before = await rateCard.textContent();
  const loop = (async () => {
    const until = Date.now() + 4_000;
    while (Date.now() < until) await traffic('/tight/x', 'overview-client', 5);
  })();
  await waitFor('the rate to move', async () => (await rateCard.textContent()) !== before && Number((await rateCard.textContent())?.replace(/[^0-9.]/g, '')) > 0, 10_000, 100);
  await loop;
  const limitedCard = page.locator('.card').filter({ hasText: 'Limited (429)' }).locator('dd').first();
  // Traffic has stopped: within the refresh interval the page shows what /metrics counts.
  await waitFor('the limited count to equal /metrics', async () => {
    const metrics = samples((await send(gw.url, '/metrics')).text);
    const limited = [...metrics].filter(([k]) => k.startsWith('throttlegate_rate_limited_total')).reduce((a, [, v]) => a + v, 0);
    const shown = Number((await limitedCard.textContent())?.replace(/[^0-9]/g, ''));
    return limited > 0 && shown === limited;
  }, 5_000, 100);
  await page.screenshot({ path: `${SHOTS}overview-desktop.png` });
  assert.deepEqual(problems, []);
});

test('a path and a User-Agent holding markup are shown as text; no dialog opens', { skip: !available }, async () => {
  const { page, problems } = await signedIn();
  const hostile = '<img src=x onerror=alert(1)>';
  await page.getByRole('link', { name: 'Live log' }).click();
  await page.getByRole('heading', { name: 'Live log', level: 1 }).waitFor();
  await send(gw.url, '/api/<img%20src=x%20onerror=alert(1)>', { headers: { 'user-agent': hostile, 'x-api-key': hostile } });
  // The User-Agent as sent, as text; the path as the gateway canonicalises it (percent-encoded).
  await page.locator('tbody td').getByText(hostile, { exact: true }).first().waitFor({ timeout: 10_000 });
  await page.locator('tbody td').getByText('/api/%3Cimg%20src=x%20onerror=alert(1)%3E', { exact: true }).first().waitFor({ timeout: 5_000 });
  assert.equal(await page.locator('main img').count(), 0, 'no img element was created');
  await page.getByRole('link', { name: 'Clients' }).click();
  await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
  await page.waitForTimeout(1_500);
  assert.equal(await page.locator('main img').count(), 0);
  assert.deepEqual(problems, [], 'no alert, no error');
});

test('every page at 1280x800 and 390x844, light and dark: screenshots for the README', { skip: !available }, async () => {
  await traffic('/api/s', 'screenshot-client', 20);
  await traffic('/tight/s', 'screenshot-client', 6);
  const client = label('screenshot-client');
  const pages: [string, string, string][] = [
    ['overview', '#/', 'Overview'],
    ['routes', '#/routes', 'Routes'],
    ['clients', '#/clients', 'Clients'],
    ['client', `#/clients/${encodeURIComponent(client)}`, client],
    ['log', '#/log', 'Live log'],
  ];
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    for (const scheme of ['light', 'dark'] as const) {
      const { page, problems } = await signedIn(viewport, scheme);
      for (const [name, hash, heading] of pages) {
        await page.goto(`${gw.adminUrl}/dashboard/${hash}`);
        await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
        await traffic('/api/live', 'screenshot-client', 10, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) dashboard-screenshots' });
        // Two ticks: the page shows live data, not its waiting state.
        await page.waitForTimeout(1_200);
        assert.equal(await page.getByText('Waiting for').count(), 0, `${name} has data`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `${name} at ${size}: the page itself does not scroll sideways (${overflow}px)`);
        await page.screenshot({ path: `${SHOTS}${name}-${size}${scheme === 'dark' ? '-dark' : ''}.png` });
      }
      assert.deepEqual(problems, []);
      await page.context().close();
    }
  }
});

test('keyboard alone: sign in, move between pages, open and cancel an action', { skip: !available }, async () => {
  const context = await browser.newContext({ viewport: DESKTOP });
  const page = await context.newPage();
  await page.goto(`${gw.adminUrl}/dashboard/login`);
  // The field has autofocus; Tab reaches it otherwise (a page that opened without focus).
  for (let i = 0; i < 5 && (await page.evaluate(() => document.activeElement?.id)) !== 'token'; i++) await page.keyboard.press('Tab');
  await page.keyboard.type(TOKEN);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  // Tab until the Clients link has focus, then follow it.
  for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Clients'; i++) await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Clients', level: 1 }).waitFor();
  await traffic('/api/k', 'keyboard-client', 5);
  const raise = page.getByRole('button', { name: 'Raise limit' }).first();
  await raise.waitFor();
  await raise.focus();
  await page.keyboard.press('Enter');
  await page.locator('dialog[open]').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('dialog[open]').waitFor({ state: 'detached', timeout: 5_000 }).catch(() => undefined);
  assert.equal(await page.locator('dialog[open]').count(), 0, 'Escape closed the dialog');
  await context.close();
});
