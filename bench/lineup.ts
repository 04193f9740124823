/** Which targets exist, in the order each round runs them, and which ones BENCH_TARGETS selects. */

export const ORDER = ['a', 'n', 'b', 'q', 'r', 's', 'm', 'l', 'k', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'o', 'p', 't', 'u', 'v'] as const;
export type TargetId = (typeof ORDER)[number];

/** The traffic a target sees: one key under its limit, one key far over it, or 100k keys. */
export type Scenario = 'pass' | 'flood' | 'keys';

export interface TargetInfo {
  readonly label: string;
  readonly scenario: Scenario;
  /** bare: the baseline proxy; gateway: throttlegate; peer: @fastify/rate-limit. */
  readonly kind: 'bare' | 'gateway' | 'peer';
  readonly redis: boolean;
  /** Forwards to a pool of three origins (the bench's origin and two more) instead of one. */
  readonly pool?: boolean;
  /** Exports spans to the bench's OTLP sink (otlp-sink.ts), whose port follows the origin's. */
  readonly otlp?: boolean;
}

export const TARGETS: Record<TargetId, TargetInfo> = {
  a: { label: '(a) bare fastify + http-proxy', scenario: 'pass', kind: 'bare', redis: false },
  b: { label: '(b) gateway pass-through', scenario: 'pass', kind: 'gateway', redis: false },
  c: { label: '(c) gateway flood (429s)', scenario: 'flood', kind: 'gateway', redis: false },
  d: { label: '(d) gateway 100k keys', scenario: 'keys', kind: 'gateway', redis: false },
  e: { label: '(e) gateway Redis pass-through', scenario: 'pass', kind: 'gateway', redis: true },
  f: { label: '(f) gateway Redis flood (429s)', scenario: 'flood', kind: 'gateway', redis: true },
  g: { label: '(g) gateway Redis 100k keys', scenario: 'keys', kind: 'gateway', redis: true },
  h: { label: '(h) @fastify/rate-limit Redis pass-through', scenario: 'pass', kind: 'peer', redis: true },
  i: { label: '(i) @fastify/rate-limit Redis flood (429s)', scenario: 'flood', kind: 'peer', redis: true },
  j: { label: '(j) @fastify/rate-limit Redis 100k keys', scenario: 'keys', kind: 'peer', redis: true },
  k: { label: '(k) @fastify/rate-limit memory pass-through', scenario: 'pass', kind: 'peer', redis: false },
  l: { label: '(l) gateway 3-target pool pass-through', scenario: 'pass', kind: 'gateway', redis: false, pool: true },
  m: { label: '(m) gateway pass-through, plan key + 3 limits', scenario: 'pass', kind: 'gateway', redis: false },
  n: { label: '(n) ceiling: node:http + undici Pool.stream', scenario: 'pass', kind: 'bare', redis: false },
  o: { label: '(o) gateway, 2 workers, pass-through', scenario: 'pass', kind: 'gateway', redis: false },
  p: { label: '(p) gateway, 2 workers, flood (429s)', scenario: 'flood', kind: 'gateway', redis: false },
  t: { label: '(t) control: 2 independent gateways, no shared limits', scenario: 'pass', kind: 'gateway', redis: false },
  v: { label: '(v) floor: node:http answering (c)\'s 429 bytes', scenario: 'flood', kind: 'bare', redis: false },
  u: { label: '(u) control: 2 independent gateways, flood (429s)', scenario: 'flood', kind: 'gateway', redis: false },
  q: { label: '(q) gateway pass-through, adaptive enforce', scenario: 'pass', kind: 'gateway', redis: false },
  r: { label: '(r) gateway pass-through, tracing at 0.01', scenario: 'pass', kind: 'gateway', redis: false, otlp: true },
  s: { label: '(s) gateway pass-through, a dashboard streaming', scenario: 'pass', kind: 'gateway', redis: false },
};

/** For each Redis gateway row, the rows it is compared with: same scenario on memory, and the peer. */
export const REDIS_REFERENCES: Partial<Record<TargetId, { memory: TargetId; peer: TargetId }>> = {
  e: { memory: 'b', peer: 'h' },
  f: { memory: 'c', peer: 'i' },
  g: { memory: 'd', peer: 'j' },
};

/**
 * BENCH_TARGETS=a,e,h -> those targets in run order. (a) is always added:
 * every ratio in the report is against it, measured in the same rounds.
 */
export function selectTargets(raw: string | undefined): TargetId[] {
  if (raw === undefined || raw.trim() === '') return [...ORDER];
  const wanted = new Set(raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  const unknown = [...wanted].filter((id) => !(ORDER as readonly string[]).includes(id));
  if (unknown.length > 0) throw new Error(`BENCH_TARGETS: unknown target(s) ${unknown.join(', ')}; known: ${ORDER.join(',')}`);
  wanted.add('a');
  return ORDER.filter((id) => wanted.has(id));
}
