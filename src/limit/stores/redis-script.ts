import type { RawStep } from '../algorithms/token-bucket.js';

/**
 * Decisions as one atomic server-side step each: read the bucket, refill,
 * take a token, write it back with its expiry, answer. The same GCRA
 * arithmetic as algorithms/token-bucket.ts, on Redis's own clock (TIME), so
 * gateway clocks may drift without changing limits. Redis 7 replicates a
 * script's effects, not the script, so calling TIME before a write is allowed.
 *
 * One call carries the decisions of one batch (redis-batch.ts): KEYS[i] is a
 * bucket key (holding `fullAt`, ms on Redis's clock), ARGV[2i-1] its rate
 * (tokens/s) and ARGV[2i] its burst, taken in order, so two requests of one
 * client in one batch see each other exactly as they would in two calls.
 * Returns 4 entries per key: allowed, tokensLeft, msUntilFull, msUntilToken;
 * the floats as strings, since Redis would truncate Lua numbers to integers.
 *
 * A key expires when its bucket would be full again: an expired bucket is
 * exactly a new one, so Redis memory is bounded by the clients active within
 * burst / rate seconds.
 */
export const TAKE_TOKENS_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local ms_per_token = 1000 / rate
  local start = now
  local full_at = tonumber(redis.call('GET', key))
  if full_at and full_at > now then start = full_at end
  local tokens = burst - (start - now) * rate / 1000
  local n = #out
  if tokens + 1e-9 >= 1 then
    local next_full = start + ms_per_token
    redis.call('SET', key, string.format('%.3f', next_full), 'PX', math.max(1, math.ceil(next_full - now)))
    out[n + 1] = 1
    out[n + 2] = string.format('%.9f', tokens - 1)
    out[n + 3] = string.format('%.3f', next_full - now)
    out[n + 4] = '0'
  else
    out[n + 1] = 0
    out[n + 2] = string.format('%.9f', tokens)
    out[n + 3] = string.format('%.3f', start - now)
    out[n + 4] = string.format('%.3f', (1 - tokens) * ms_per_token)
  end
end
return out
`;

/** The script's answer: 4 entries per key, in the order of KEYS. */
export type ScriptReply = ReadonlyArray<number | string>;

/** The decision for the `index`-th key of a call. */
export function parseReply(reply: ScriptReply, index: number): RawStep {
  const at = index * 4;
  return {
    allowed: reply[at] === 1,
    tokensLeft: Number(reply[at + 1]),
    msUntilFull: Number(reply[at + 2]),
    msUntilToken: Number(reply[at + 3]),
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
