/**
 * `npm run profile -- b` (any target id, default b): one target under
 * `node --cpu-prof` on CPU 0, loaded by autocannon on CPU 1 for
 * PROFILE_SECONDS (default 10) after a 1 s warm-up, then a summary of where
 * its CPU went: self time by area (socket writes, streams, node:http, undici,
 * fastify, the gateway's own files, ...) and the top functions. The raw
 * .cpuprofile stays in .bench/profiles/ for Chrome DevTools or speedscope.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fire, KeyCycler } from './load.js';
import { KEY_COUNT } from './measure.js';
import { ORDER, TARGETS, type TargetId } from './lineup.js';
import { canPin, killAll, launch, pinSelf, start, stop } from './procs.js';
import { startRedis } from './redis.js';
import { summariseProfile, type CpuProfile } from './profile-summary.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');

async function main(): Promise<void> {
  const id = (process.argv[2] ?? 'b') as TargetId;
  if (!(ORDER as readonly string[]).includes(id)) throw new Error(`unknown target ${id}; known: ${ORDER.join(',')}`);
  const info = TARGETS[id];
  const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
  const pinned = canPin();
  if (pinned) pinSelf(1);
  const dir = join(ROOT, '.bench', 'profiles', `${id}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const origin = await start('origin', join(HERE, 'origin.js'), ['0'], pinned ? 1 : undefined);
  const redis = info.redis ? await startRedis(pinned ? 1 : undefined) : undefined;
  const sink = info.otlp ? await start('otlp sink', join(HERE, 'otlp-sink.js'), ['0'], pinned ? 1 : undefined) : undefined;
  const args = [String(origin.port), ...(redis ? [String(redis.port)] : []), ...(sink ? [String(sink.port)] : [])];
  const target = await launch(info.label, [process.execPath, '--cpu-prof', '--cpu-prof-dir', dir, join(HERE, `target-${id}.js`), ...args],
    pinned ? 0 : undefined, (line) => {
      const ready = /^ready (\d+)$/.exec(line.trim());
      return ready ? Number(ready[1]) : undefined;
    });
  await fire({ port: target.port, seconds: 1, connections: 50 });
  // The 100k-key targets get their keys as the bench sends them; the others one key.
  const keys = info.scenario === 'keys' ? new KeyCycler(KEY_COUNT) : undefined;
  const sample = await fire({ port: target.port, seconds, connections: 50, keys });
  // Closing stdin makes the target call process.exit(0), which writes the profile (a signal would not).
  const exited = new Promise<void>((done) => target.child.once('exit', () => done()));
  target.child.stdin?.end();
  await exited;
  await stop(origin);
  if (redis) await stop(redis);
  if (sink) await stop(sink);
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  console.log(`${info.label}: ${sample.reqPerSec.toFixed(0)} req/s under the profiler, ${seconds} s, p99 ${sample.p99} ms`);
  console.log(summariseProfile(profile, sample.reqPerSec * seconds));
  console.log(`\nprofile: ${join(dir, file)}`);
}

process.on('exit', killAll);
main().catch((err: unknown) => {
  console.error(err);
  killAll();
  process.exit(1);
});
