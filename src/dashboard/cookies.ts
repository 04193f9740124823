/** The session cookie's name. */
export const SESSION_COOKIE = 'tg_session';

/** One cookie's value from a Cookie header (the first, as browsers send the most specific path first). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The session cookie: HttpOnly (no script reads it), SameSite=Strict (no
 * other site's page sends it), Path=/ (the admin API takes it too), and
 * Secure when the dashboard was reached over https.
 */
export function sessionCookie(id: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/**
 * A Cookie header without the dashboard's session cookie (proxy/headers.ts,
 * for every request the gateway forwards). Browsers send a host's cookies to
 * all its ports: an operator signed in on the admin listener who browses the
 * gateway's own routes on the same host would otherwise hand the session to
 * every upstream. undefined when nothing else is left.
 */
export function withoutSessionCookie(header: string): string | undefined {
  const kept = header.split(';').filter((part) => part.split('=', 1)[0]?.trim() !== SESSION_COOKIE);
  return kept.length === 0 ? undefined : kept.join(';').trim();
}
