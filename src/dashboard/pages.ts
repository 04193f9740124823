import type { Assets } from './assets.js';

/**
 * The dashboard's HTML: two shells with no inline script or style, so the
 * Content-Security-Policy below can forbid both. Every value put in them is
 * escaped (the only ones are messages and tokens of our own, but the rule
 * holds for all).
 */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers of every dashboard page and API answer. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function head(assets: Assets | undefined, title: string, extra = ''): string {
  const css = assets === undefined ? '' : `<link rel="stylesheet" href="/dashboard/assets/${escape(assets.css)}">`;
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    // An empty icon: the browser's /favicon.ico request would otherwise be an error on every page.
    `<meta name="color-scheme" content="light dark"><link rel="icon" href="data:,">${extra}<title>${escape(title)}</title>${css}</head>`
  );
}

/** The sign-in form: a plain POST, so it works before (and without) the app's script. */
export function loginPage(assets: Assets | undefined, message?: string): string {
  const error = message === undefined ? '' : `<p class="login-error" role="alert">${escape(message)}</p>`;
  return (
    head(assets, 'Sign in · Throttlegate') +
    '<body class="login-body"><main class="login"><h1 class="login-title">Throttlegate</h1>' +
    '<form class="login-form" method="post" action="/dashboard/login">' +
    '<label for="token">Admin token</label>' +
    '<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>' +
    `<button type="submit">Sign in</button>${error}</form>` +
    '<p class="login-hint">One of the tokens of <code>admin.token</code> or <code>admin.tokens</code> in the gateway&#39;s config.</p>' +
    '</main></body></html>'
  );
}

/** The app's shell: its bundle and the session's CSRF token (read by the script from the meta tag). */
export function appPage(assets: Assets, csrf: string): string {
  return (
    head(assets, 'Throttlegate', `<meta name="csrf-token" content="${escape(csrf)}">`) +
    `<body><div id="app"></div><script type="module" src="/dashboard/assets/${escape(assets.js)}"></script></body></html>`
  );
}

/** What the dashboard answers when it cannot run (assets not built, workers). */
export function notAvailablePage(assets: Assets | undefined, why: string): string {
  return `${head(assets, 'Throttlegate')}<body class="login-body"><main class="login"><h1 class="login-title">Throttlegate</h1><p class="login-error" role="alert">${escape(why)}</p></main></body></html>`;
}
