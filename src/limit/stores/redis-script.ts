import type { RawStep } from '../algorithms/token-bucket.js';

/**
 * One decision as one atomic server-side step: read the bucket, refill, take a
 * token, write it back with its expiry, answer. The same GCRA arithmetic as
 * algorithms/token-bucket.ts, on Redis's own clock (TIME), so gateway clocks
 * may drift without changing limits. Redis 7 replicates a script's effects,
 * not the script, so calling TIME before a write is allowed.
 *
 * KEYS[1] bucket key (holds `fullAt`, ms on Redis's clock)
 * ARGV[1] rate (tokens/s), ARGV[2] burst
 * Returns {allowed, tokensLeft, msUntilFull, msUntilToken}; the floats as
 * strings, since Redis would truncate Lua numbers to integers.
 *
 * The key expires when the bucket would be full again: an expired bucket is
 * exactly a new one, so Redis memory is bounded by the clients active within
 * burst / rate seconds.
 */
export const TAKE_TOKEN_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ms_per_token = 1000 / rate
local start = now
local full_at = tonumber(redis.call('GET', KEYS[1]))
if full_at and full_at > now then start = full_at end
local tokens = burst - (start - now) * rate / 1000
if tokens + 1e-9 >= 1 then
  local next_full = start + ms_per_token
  redis.call('SET', KEYS[1], string.format('%.3f', next_full), 'PX', math.max(1, math.ceil(next_full - now)))
  return {1, string.format('%.9f', tokens - 1), string.format('%.3f', next_full - now), '0'}
end
return {0, string.format('%.9f', tokens), string.format('%.3f', start - now), string.format('%.3f', (1 - tokens) * ms_per_token)}
`;

export type ScriptReply = [number, string, string, string];

export function parseReply(reply: ScriptReply): RawStep {
  return {
    allowed: reply[0] === 1,
    tokensLeft: Number(reply[1]),
    msUntilFull: Number(reply[2]),
    msUntilToken: Number(reply[3]),
  };
}

/**
 * `<prefix>{<policy>:<client>}`. The braces are a Redis Cluster hash tag: a
 * decision touches one key, and any future companion key of the same bucket
 * lands in the same slot.
 */
export function bucketKey(prefix: string, policyId: string, clientKey: string): string {
  return `${prefix}{${policyId}:${clientKey}}`;
}
