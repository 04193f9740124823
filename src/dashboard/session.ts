import { randomBytes, timingSafeEqual } from 'node:crypto';

/** A signed-in dashboard: which admin token signed it in, its CSRF token, when it ends. */
export interface DashboardSession {
  readonly id: string;
  /** The admin token's id: audit lines name it, and the session ends when the token leaves the config. */
  readonly who: string;
  /** SHA-256 of the token that signed in: a token whose value changes under the same id (a rotation) ends the session too. */
  readonly tokenDigest: string;
  readonly csrf: string;
  readonly expiresAt: number;
}

export const SESSION_TTL_MS = 8 * 3_600_000;
// Sign-ins are rate-limited per address (auth-throttle.ts); this bounds what a flood of them could hold.
const MAX_SESSIONS = 1_000;

/**
 * Dashboard sessions, in this process's memory (the admin listener is one
 * process, also with workers). The cookie carries only a random id; a
 * session never outlives its expiry, and the oldest is dropped past
 * MAX_SESSIONS.
 */
export class DashboardSessions {
  readonly #sessions = new Map<string, DashboardSession>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  create(who: string, tokenDigest: string): DashboardSession {
    this.#sweep();
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string);
    const session = { id: token(), who, tokenDigest, csrf: token(), expiresAt: this.now() + this.ttlMs };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session a cookie value names, or undefined (unknown, expired, or its token, id and value, is no longer configured). */
  get(id: string | undefined, tokenStillConfigured: (who: string, tokenDigest: string) => boolean): DashboardSession | undefined {
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.now() || !tokenStillConfigured(session.who, session.tokenDigest)) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  end(id: string): void {
    this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  #sweep(): void {
    const now = this.now();
    for (const [id, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(id);
  }
}

/** Whether a presented CSRF token is the session's, in constant time. */
export function csrfMatches(session: DashboardSession, presented: string | string[] | undefined): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

const token = (): string => randomBytes(32).toString('base64url');
