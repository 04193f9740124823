import type { AlgorithmName, LimitSpec } from '../algorithms/types.js';
import type { LimitCheck, LimitStep } from './store.js';

/**
 * The checks of one batch (redis-batch.ts) as one script call. Redis runs a
 * script atomically, so each check is one indivisible step: every limit is
 * decided at the same `now`, then, only if no enforced limit refused, every
 * limit whose own step allowed is written, with its expiry. Checks are taken
 * in order, so two checks of one client in one batch see each other exactly
 * as they would in two calls. The arithmetic is algorithms/*.ts line for line
 * (same operations in the same order on the same doubles, so the same bits;
 * the conformance suite holds memory and Redis equal at boundary instants).
 *
 * ARGV, per check: now ('' = Redis TIME, read once per call), the number of
 * limits n, the cost; then per limit ARGS_PER_LIMIT fields: algorithm code,
 * rate, capacity, windowMs, enforce (1/0), leaseMs, lease member ('' unless
 * concurrency). KEYS: one per limit, in the same order.
 *
 * State is one string "a:b:c" of %.17g numbers (a double round-trips exactly
 * through %.17g and tonumber), not a hash: one GET and one SET ... PX, where a
 * hash would need HSET plus PEXPIRE and more memory per key. Concurrency is a
 * sorted set of leases (member = lease id, score = expiry instant): a lease
 * of an instance that died without releasing is dropped once it expires.
 *
 * Reply, 4 entries per limit in KEYS order: allowed (1/0), then remaining,
 * resetMs and retryAfterMs as %.17g strings: Redis truncates Lua numbers to
 * integers, and %.3f would move a wait of 1000.0004 ms to the other side of a
 * whole-second boundary. A key expires (PX, ceil so never early) at the
 * algorithm's idleAt: from then on its state decides as no state would, so
 * expiry is lossless and Redis memory holds only active clients.
 *
 * A key holding another algorithm's state (a limit id whose algorithm changed
 * across a reload) reads as no state instead of failing the whole batch.
 *
 * Two modes for Redis Cluster, where a check of several limits is decided one
 * key per call and compensated (redis.ts): ARGV[1] = 'at' prefixes one
 * single-limit check and appends the `now` it was decided at to the reply;
 * ARGV[1] = 'refund' undoes one such committed step (see `encodeRefund`).
 */
export const CHECK_LUA = `
local EPS, EPS_MS = 1e-9, 1e-6
local function fmt(x) return string.format('%.17g', x) end
local function whole(u) return math.max(0, math.floor(u + EPS)) end

local function read(key, width)
  local v = redis.pcall('GET', key)
  if type(v) ~= 'string' then return nil end
  local s = {}
  for part in string.gmatch(v, '[^:]+') do s[#s + 1] = tonumber(part) end
  if #s ~= width then return nil end
  return s
end

-- Each returns allowed, remaining, resetMs, retryAfterMs, next state (nil when refused), idleAt of next.
local function token_bucket(key, now, rate, cap, cost)
  local s = read(key, 2)
  local tokens = cap
  if s then tokens = math.min(cap, s[1] + (math.max(0, now - s[2]) * rate) / 1000) end
  if tokens + EPS >= cost then
    local left = tokens - cost
    return true, whole(left), ((cap - left) * 1000) / rate, 0, {left, now}, now + ((cap - left) * 1000) / rate
  end
  return false, whole(tokens), ((cap - tokens) * 1000) / rate, ((cost - tokens) * 1000) / rate
end

local function gcra(key, now, rate, cap, cost)
  local s = read(key, 1)
  local interval = 1000 / rate
  local tolerance = cap * interval
  local tat = now
  if s then tat = math.max(s[1], now) end
  local next_tat = tat + cost * interval
  if next_tat - now <= tolerance + EPS_MS then
    return true, whole((tolerance - (next_tat - now)) / interval), next_tat - now, 0, {next_tat}, next_tat
  end
  return false, whole((tolerance - (tat - now)) / interval), tat - now, next_tat - now - tolerance
end

local function fixed_window(key, now, cap, w, cost)
  local s = read(key, 2)
  local start = math.floor(now / w) * w
  local count = 0
  if s and s[1] == start then count = s[2] end
  local reset = start + w - now
  if count + cost <= cap then return true, cap - count - cost, reset, 0, {start, count + cost}, start + w end
  return false, math.max(0, cap - count), reset, reset
end

local function sliding_window(key, now, cap, w, cost)
  local s = read(key, 3)
  local start = math.floor(now / w) * w
  local current, previous = 0, 0
  if s and s[1] == start then current, previous = s[2], s[3]
  elseif s and s[1] == start - w then previous = s[2] end
  local estimate = previous * ((start + w - now) / w) + current
  if estimate + cost <= cap + EPS then
    local idle = start + w
    if current + cost > 0 then idle = start + 2 * w end
    return true, whole(cap - estimate - cost), start + 2 * w - now, 0, {start, current + cost, previous}, idle
  end
  local reset = start + w - now
  if current > 0 then reset = start + 2 * w - now end
  local room = cap - cost - current
  local retry
  if room >= 0 and previous > 0 then retry = start + w - (room * w) / previous - now
  -- As sliding-window.ts: only a cost above the limit (refused by config validation) leaves nothing to fade.
  elseif current == 0 or cap - cost < 0 then retry = start + 2 * w - now
  else retry = start + 2 * w - ((cap - cost) * w) / current - now end
  return false, whole(cap - estimate), reset, retry
end

-- Expired leases are the slots of instances that died holding them.
local function concurrency(key, now, cap)
  if type(redis.pcall('ZREMRANGEBYSCORE', key, '-inf', fmt(now))) == 'table' then redis.call('DEL', key) end
  local count = redis.call('ZCARD', key)
  if count + 1 <= cap then return true, cap - count - 1, 0, 0 end
  return false, 0, 0, 1000
end

-- Gives back one committed step of \`cost\` (decided at t0, reply resetMs r0), never more than
-- the commit still holds, so a refund is never looser than no commit at all. Buckets: without
-- the commit the bucket was full from t0 + r0 - cost / rate on; a later write there found it
-- capped, so what refilled after that instant up to the write (the last one is s[2]; gcra keeps
-- none, so up to now) was never the commit's to give back. Windows: the commit's count sits in
-- t0's window (for sliding_window, in previous once the next window is written). 1 if changed.
local function refund(key, now, algo, rate, cap, w, cost, t0, r0, member)
  if algo == '5' then
    local n = redis.pcall('ZREM', key, member)
    if type(n) ~= 'number' then return 0 end
    return n
  end
  local nxt, idle
  if algo == '1' then
    local s = read(key, 2)
    if not s then return 0 end
    local give = cost
    local late = s[2] - math.max(t0 + r0 - (cost * 1000) / rate, t0)
    if late > 0 then give = cost - (late * rate) / 1000 end
    if give <= 0 then return 0 end
    local tokens = math.min(cap, s[1] + give)
    nxt, idle = {tokens, s[2]}, s[2] + ((cap - tokens) * 1000) / rate
  elseif algo == '2' then
    local s = read(key, 1)
    if not s then return 0 end
    local interval = 1000 / rate
    local tat = s[1] - cost * interval + math.max(0, now - math.max(t0 + r0 - cost * interval, t0))
    if tat >= s[1] then return 0 end
    nxt, idle = {tat}, tat
  elseif algo == '3' then
    local s = read(key, 2)
    local start = math.floor(t0 / w) * w
    if not s or s[1] ~= start then return 0 end
    nxt, idle = {start, math.max(0, s[2] - cost)}, start + w
  else
    local s = read(key, 3)
    local start = math.floor(t0 / w) * w
    if not s then return 0 end
    -- The commit counted in its window's current; a write in the next window moved that count to previous.
    if s[1] == start then nxt = {start, math.max(0, s[2] - cost), s[3]}
    elseif s[1] == start + w then nxt = {s[1], s[2], math.max(0, s[3] - cost)}
    else return 0 end
    idle = nxt[1] + w
    if nxt[2] > 0 then idle = nxt[1] + 2 * w end
  end
  local parts = {}
  for j = 1, #nxt do parts[j] = fmt(nxt[j]) end
  local px = math.max(1, math.ceil(idle - now))
  if px < math.huge then redis.call('SET', key, table.concat(parts, ':'), 'PX', fmt(px))
  else redis.call('SET', key, table.concat(parts, ':')) end
  return 1
end

local clock
local function time()
  if not clock then
    local t = redis.call('TIME')
    clock = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
  end
  return clock
end

if ARGV[1] == 'refund' then
  local now = tonumber(ARGV[2]) or time()
  return refund(KEYS[1], now, ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10])
end

local stamp = ARGV[1] == 'at'
-- 'dry': decide as ever, store nothing (the admin API's peek).
local dry = ARGV[1] == 'dry'
local out, k, a = {}, 0, 1
if stamp or dry then a = 2 end
local now
while a <= #ARGV do
  now = tonumber(ARGV[a])
  if ARGV[a] == '' then now = time() end
  local n, cost = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local steps, refused = {}, false
  for i = 1, n do
    local key = KEYS[k + i]
    local algo, rate, cap, w = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local ok, remaining, reset, retry, nxt, idle
    if algo == '1' then ok, remaining, reset, retry, nxt, idle = token_bucket(key, now, rate, cap, cost)
    elseif algo == '2' then ok, remaining, reset, retry, nxt, idle = gcra(key, now, rate, cap, cost)
    elseif algo == '3' then ok, remaining, reset, retry, nxt, idle = fixed_window(key, now, cap, w, cost)
    elseif algo == '4' then ok, remaining, reset, retry, nxt, idle = sliding_window(key, now, cap, w, cost)
    else ok, remaining, reset, retry = concurrency(key, now, cap) end
    if not ok and ARGV[a + 4] == '1' then refused = true end
    steps[i] = {ok, remaining, reset, retry, nxt, idle, algo, tonumber(ARGV[a + 5]), ARGV[a + 6]}
    a = a + 7
  end
  for i = 1, n do
    local st = steps[i]
    if st[1] and not refused and not dry then
      local key = KEYS[k + i]
      if st[7] == '5' then
        local lease = st[8]
        redis.call('ZADD', key, fmt(now + lease), st[9])
        -- Every lease of one limit lasts leaseMs; never shorten the key's life below one (a lease changed by reload).
        if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, fmt(math.ceil(lease))) end
      else
        local parts = {}
        for j = 1, #st[5] do parts[j] = fmt(st[5][j]) end
        local px = math.max(1, math.ceil(st[6] - now))
        if px < math.huge then redis.call('SET', key, table.concat(parts, ':'), 'PX', fmt(px))
        else redis.call('SET', key, table.concat(parts, ':')) end
      end
    end
    out[#out + 1] = st[1] and 1 or 0
    out[#out + 1] = fmt(st[2])
    out[#out + 1] = fmt(st[3])
    out[#out + 1] = fmt(st[4])
  end
  k = k + n
end
if stamp then out[#out + 1] = fmt(now) end
return out
`;

/** The script's answer: 4 entries per limit, in the order of KEYS. */
export type ScriptReply = ReadonlyArray<number | string>;

export const ARGS_PER_LIMIT = 7;

const ALGORITHM_CODE: Readonly<Record<AlgorithmName, string>> = {
  token_bucket: '1',
  gcra: '2',
  fixed_window: '3',
  sliding_window: '4',
  concurrency: '5',
};

/**
 * `<prefix>{<limit>:<scope key>}`: the braces are a Redis Cluster hash tag,
 * so limits spread over the cluster by limit and client.
 */
export function bucketKey(prefix: string, limitId: string, scopeKey: string): string {
  return `${prefix}{${limitId}:${scopeKey}}`;
}

/**
 * The Redis key of each limit of a check: one per limit and scope key,
 * whatever check it is in, so a limit shared by several checks (a route
 * limit in every plan, one check of one limit or of several) is one budget,
 * on standalone Redis and on Cluster alike.
 * The third argument is ignored (keys no longer depend on Cluster); it stays
 * only until test/unit/redis-batch.test.ts stops passing it.
 */
export function checkKeys(prefix: string, check: LimitCheck): string[] {
  return check.limits.map((spec, i) => bucketKey(prefix, spec.id, check.keys[i] as string));
}

/**
 * One check's ARGV (see CHECK_LUA). `now` undefined: the script reads Redis
 * TIME. Numbers go as JS's shortest round-trip strings, which Lua parses back
 * to the same double. `members[i]` is the lease id of a concurrency limit.
 */
export function encodeCheck(check: LimitCheck, now: number | undefined, members: readonly string[]): string[] {
  const args = [now === undefined ? '' : String(now), String(check.limits.length), String(check.cost)];
  check.limits.forEach((spec: LimitSpec, i) => {
    args.push(
      ALGORITHM_CODE[spec.algorithm],
      String(spec.rate),
      String(spec.capacity),
      String(spec.windowMs),
      spec.mode === 'enforce' ? '1' : '0',
      String(spec.leaseMs),
      members[i] ?? '',
    );
  });
  return args;
}

/** A Cluster per-key check (`'at'` mode): one limit's ARGV, its reply then carries `now` as a 5th entry. */
export function encodeStamped(check: LimitCheck, index: number, now: number | undefined, member: string): string[] {
  const one: LimitCheck = { group: check.group, limits: [check.limits[index] as LimitSpec], keys: [check.keys[index] as string], cost: check.cost };
  return ['at', ...encodeCheck(one, now, [member])];
}

/**
 * Undoes the commit of one `'at'` call (see refund in CHECK_LUA): `at` is the
 * `now` its reply carried, `resetMs` its step's; `now` undefined: Redis TIME.
 */
export function encodeRefund(spec: LimitSpec, cost: number, now: number | undefined, at: string, resetMs: number, member: string): string[] {
  const when = now === undefined ? '' : String(now);
  return ['refund', when, ALGORITHM_CODE[spec.algorithm], String(spec.rate), String(spec.capacity), String(spec.windowMs), String(cost), at, String(resetMs), member];
}

/** The steps of `count` limits starting at the `first`-th limit of a call's reply. */
export function parseSteps(reply: ScriptReply, first: number, count: number): LimitStep[] {
  const steps = new Array<LimitStep>(count);
  for (let i = 0; i < count; i++) {
    const at = (first + i) * 4;
    // Field by field in one order: one object shape for every step keeps header writing monomorphic.
    steps[i] = { allowed: reply[at] === 1, remaining: num(reply[at + 1]), resetMs: num(reply[at + 2]), retryAfterMs: num(reply[at + 3]) };
  }
  return steps;
}

// C's %.17g spells infinities `inf` (a cost above a window's limit never fits), which Number() does not read.
function num(v: number | string | undefined): number {
  const n = Number(v);
  if (!Number.isNaN(n)) return n;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  return NaN;
}
