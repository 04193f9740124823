/**
 * Summarises a V8 .cpuprofile (what `node --cpu-prof` writes): self time by
 * area and the top functions, as µs per request and share of busy time.
 * Pure: the profile in, markdown out.
 */

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The area a frame's self time is charged to, first match wins. */
const AREAS: readonly (readonly [string, (url: string, fn: string) => boolean])[] = [
  ['idle', (url, fn) => fn === '(idle)'],
  ['GC', (url, fn) => fn === '(garbage collector)'],
  ['native / syscalls (program)', (url, fn) => fn === '(program)'],
  ['socket writes', (url, fn) => /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeGeneric|writevGeneric|handleWriteReq)$/.test(fn) ||
    url.includes('stream_base_commons')],
  ['gateway (src/)', (url) => /\/dist(-[\w-]+)?\/src\//.test(url)],
  ['undici', (url) => url.includes('node_modules/undici/') || url.startsWith('wasm://')],
  ['fastify + @fastify/*', (url) => /node_modules\/(fastify|@fastify|find-my-way|avvio|light-my-request|fast-json-stringify|fastq|toad-cache)\//.test(url)],
  ['pino', (url) => /node_modules\/(pino|sonic-boom|thread-stream|fast-redact|quick-format-unescaped)/.test(url)],
  ['prom-client', (url) => url.includes('node_modules/prom-client/')],
  ['ioredis', (url) => /node_modules\/(ioredis|redis-parser|@ioredis)/.test(url)],
  ['streams', (url) => url.includes('node:internal/streams/')],
  ['node:http', (url) => /node:_http_|node:http$/.test(url)],
  ['node:net', (url) => url === 'node:net'],
  ['events (EventEmitter)', (url) => url === 'node:events'],
  ['timers + nextTick', (url) => /node:internal\/(timers|process\/task_queues)/.test(url)],
  ['other node internals', (url) => url.startsWith('node:')],
  ['other native', () => true],
];

function areaOf(url: string, fn: string): string {
  for (const [name, matches] of AREAS) if (matches(url, fn)) return name;
  return 'other native';
}

/** Self µs per node id: each sample is charged the time delta that follows it. */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    const delta = timeDeltas[i + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + delta);
  }
  return self;
}

export function summariseProfile(profile: CpuProfile, requests: number, topN = 25): string {
  const self = selfTimes(profile);
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, { area: string; us: number }>();
  let busy = 0;
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    if (area === 'idle') continue;
    busy += us;
    const where = url === '' ? '' : ` ${url.replace(/^.*\/(node_modules|dist[^/]*)\//, '')}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    const entry = byFunction.get(key) ?? { area, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const perRequest = (us: number) => (requests > 0 ? us / requests : 0).toFixed(2);
  const share = (us: number) => ((100 * us) / (busy || 1)).toFixed(1);
  const lines = [
    `busy ${(busy / 1e6).toFixed(2)} s of CPU for ${Math.round(requests)} requests: ${perRequest(busy)} µs per request`,
    '',
    '| area | µs/req | share of busy |',
    '|---|---:|---:|',
    ...[...byArea].filter(([area]) => area !== 'idle').sort((x, y) => y[1] - x[1])
      .map(([area, us]) => `| ${area} | ${perRequest(us)} | ${share(us)} % |`),
    '',
    `| top ${topN} functions (self) | area | µs/req | share |`,
    '|---|---|---:|---:|',
    ...[...byFunction].sort((x, y) => y[1].us - x[1].us).slice(0, topN)
      .map(([fn, { area, us }]) => `| ${fn.replace(/\|/g, '\\|')} | ${area} | ${perRequest(us)} | ${share(us)} % |`),
  ];
  return lines.join('\n');
}
