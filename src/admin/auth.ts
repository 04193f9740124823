import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer tokens of the admin API, compared in constant time: each candidate
 * and the presented token are hashed to 32 bytes first, so neither length
 * nor content leaks through timing, and every configured token is compared
 * (no early exit) before the answer is known.
 */
export class AdminTokens {
  readonly #tokens: readonly { readonly id: string; readonly digest: Buffer }[];

  constructor(tokens: readonly { readonly id: string; readonly token: string }[]) {
    this.#tokens = tokens.map((t) => ({ id: t.id, digest: digest(t.token) }));
  }

  /** The id of the token an `Authorization` header carries, or undefined. */
  identify(authorization: string | undefined): string | undefined {
    const match = /^Bearer +(\S+)$/i.exec(authorization ?? '');
    const presented = digest(match?.[1] ?? '');
    let found: string | undefined;
    for (const t of this.#tokens) if (timingSafeEqual(t.digest, presented) && found === undefined) found = t.id;
    return match ? found : undefined;
  }
}

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();
