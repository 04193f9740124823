/** How many failed authentications an address may make (`admin.auth_failures`): `burst` at once, then `perMinute`. */
export interface AuthFailureLimit {
  readonly burst: number;
  readonly perMinute: number;
}

/** One address's failures left: a token bucket holding up to `burst`, refilled at `perMinute`. */
export interface FailureBucket {
  readonly tokens: number;
  readonly at: number;
}

/** Failures left at `now`; an address never seen has the whole burst. */
export function failuresLeft(bucket: FailureBucket | undefined, now: number, limit: AuthFailureLimit): number {
  if (bucket === undefined) return limit.burst;
  // A clock that steps back refills nothing (and takes nothing back).
  const elapsed = Math.max(0, now - bucket.at);
  return Math.min(limit.burst, bucket.tokens + (elapsed * limit.perMinute) / 60_000);
}

/** Milliseconds until the address may try a token again; 0 while it has a failure left. */
export function waitMs(bucket: FailureBucket | undefined, now: number, limit: AuthFailureLimit): number {
  const left = failuresLeft(bucket, now, limit);
  return left >= 1 ? 0 : Math.ceil(((1 - left) * 60_000) / limit.perMinute);
}

/** The bucket after one more failure at `now`, and whether that failure used the last one (throttling starts). */
export function afterFailure(bucket: FailureBucket | undefined, now: number, limit: AuthFailureLimit): { bucket: FailureBucket; startsThrottling: boolean } {
  const before = failuresLeft(bucket, now, limit);
  const tokens = Math.max(0, before - 1);
  return { bucket: { tokens, at: now }, startsThrottling: before >= 1 && tokens < 1 };
}

/**
 * Failed admin authentications per client address. Memory is bounded: an
 * address whose bucket has refilled is forgotten, and past `maxAddresses`
 * the one that failed longest ago goes first (Map order is last-failure
 * order). Forgetting an address gives it a fresh burst, so evicting needs
 * `maxAddresses` distinct addresses (IPv6 counted by /64), each of which
 * could guess on its own anyway.
 */
export class AuthThrottle {
  readonly #buckets = new Map<string, FailureBucket>();
  readonly #now: () => number;
  readonly #maxAddresses: number;

  constructor(now: () => number = Date.now, maxAddresses = 10_000) {
    this.#now = now;
    this.#maxAddresses = maxAddresses;
  }

  /** Milliseconds `address` must wait before a token it presents is looked at; 0: now. */
  waitMs(address: string, limit: AuthFailureLimit): number {
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) return 0;
    const now = this.#now();
    if (failuresLeft(bucket, now, limit) >= limit.burst) {
      this.#buckets.delete(address);
      return 0;
    }
    return waitMs(bucket, now, limit);
  }

  /** Counts one failure; true when it is the one that starts throttling `address`. */
  fail(address: string, limit: AuthFailureLimit): boolean {
    const next = afterFailure(this.#buckets.get(address), this.#now(), limit);
    this.#buckets.delete(address);
    this.#buckets.set(address, next.bucket);
    if (this.#buckets.size > this.#maxAddresses) this.#buckets.delete(this.#buckets.keys().next().value as string);
    return next.startsThrottling;
  }

  /** Addresses held now (for tests of the bound). */
  get size(): number {
    return this.#buckets.size;
  }
}
