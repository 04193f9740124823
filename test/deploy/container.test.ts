import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml, YAML11_SCHEMA } from 'js-yaml';
import { parseConfig } from '../../src/index.js';
import { startGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/redis.js';

/**
 * Docker is not available where this repo is developed and tested, so the
 * image is never built here: what can be checked without a daemon is checked
 * on the files (Dockerfile, .dockerignore, deploy/compose.yaml and what it
 * mounts), and the two commands the image runs on its own (the HEALTHCHECK
 * and `validate` through $THROTTLEGATE_CONFIG) run for real.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Instruction { op: string; args: string }
interface Stage { from: string; name: string | undefined; body: Instruction[] }

/** Dockerfile instructions by stage: continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of logical.filter((l) => l !== '')) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(m, `FROM ${args}`);
      stages.push({ from: m[1] as string, name: m[2], body: [] });
    } else {
      assert.ok(stages.length > 0, `${op} before the first FROM`);
      stages.at(-1)?.body.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

const stages = parseDockerfile(read('Dockerfile'));
const runtime = stages.at(-1) as Stage;
const all = (stage: Stage, op: string) => stage.body.filter((i) => i.op === op).map((i) => i.args);
const one = (stage: Stage, op: string) => {
  const found = all(stage, op);
  assert.equal(found.length, 1, `the final stage has one ${op}: ${JSON.stringify(found)}`);
  return found[0] as string;
};
/** COPY's sources and destination (shell form; flags such as --from= kept apart). */
const copies = (stage: Stage) =>
  all(stage, 'COPY').map((args) => {
    const words = args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    return { from: flags.find((f) => f.startsWith('--from='))?.slice('--from='.length), sources: paths.slice(0, -1), dest: paths.at(-1) as string };
  });

/** The port the shipped configs/config.yaml listens on when PORT is not set. */
const defaultPort = parseConfig(read('configs/config.yaml'), 'configs/config.yaml', {}).server.port;

test('every stage is a slim Node 20 image pinned to an exact release; there is a build stage and a runtime stage', () => {
  assert.ok(stages.length >= 2, 'multi-stage');
  for (const stage of stages) assert.match(stage.from, /^node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/, stage.from);
  assert.equal(runtime.name, undefined, 'the last stage is the image');
});

test('the build stage installs with dev dependencies and builds; the runtime stage installs production dependencies only, running no scripts', () => {
  const build = stages.find((s) => copies(runtime).some((c) => c.from === s.name)) as Stage;
  assert.ok(build, 'the runtime copies from a named build stage');
  const buildRuns = all(build, 'RUN').join('\n');
  assert.match(buildRuns, /npm ci(?![^\n]*--omit=dev)/);
  assert.match(buildRuns, /npm run build/);
  // tsconfig.build.json emits dist/, which is what the runtime copies from the build stage.
  const buildConfig = JSON.parse(read('tsconfig.build.json')) as { compilerOptions: { outDir: string } };
  assert.deepEqual(copies(runtime).filter((c) => c.from === build.name).flatMap((c) => c.sources), [`/app/${buildConfig.compilerOptions.outDir}`]);

  const installs = all(runtime, 'RUN').filter((r) => /\bnpm (ci|install|i)\b/.test(r));
  assert.equal(installs.length, 1, JSON.stringify(installs));
  assert.match(installs[0] as string, /npm ci .*--omit=dev/);
  // package.json's `prepare` runs tsc, which --omit=dev does not install.
  assert.match(installs[0] as string, /--ignore-scripts/);
  assert.ok((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.prepare, 'the reason for --ignore-scripts is still there');
});

test('--ignore-scripts skips no production dependency that needs its install script', () => {
  const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
  const scripted = Object.entries(lock.packages).filter(([name, p]) => name !== '' && !p.dev && p.hasInstallScript);
  assert.deepEqual(scripted.map(([name]) => name), []);
});

test('the image runs as the non-root node user, in production mode, with its config at /etc/throttlegate/config.yaml', () => {
  const users = all(runtime, 'USER');
  assert.ok(users.length >= 1, 'USER set in the final stage');
  assert.doesNotMatch(users.at(-1) as string, /^(root|0)(:|$)/);
  assert.equal(users.at(-1), 'node');
  const env = all(runtime, 'ENV').join(' ');
  assert.match(env, /\bNODE_ENV=production\b/);
  assert.match(env, /\bTHROTTLEGATE_CONFIG=\/etc\/throttlegate\/config\.yaml\b/);
  assert.ok(copies(runtime).some((c) => c.dest === '/etc/throttlegate/config.yaml'), 'a default config is there');
});

test('node itself is PID 1 and stops on SIGTERM, which drains', () => {
  assert.equal(one(runtime, 'STOPSIGNAL'), 'SIGTERM');
  // Exec form: a shell as PID 1 would not pass SIGTERM on to node.
  const entrypoint = JSON.parse(one(runtime, 'ENTRYPOINT')) as string[];
  assert.deepEqual(entrypoint, ['node', 'dist/cli.js']);
  assert.deepEqual(JSON.parse(one(runtime, 'CMD')) as string[], ['serve']);
  assert.equal(one(runtime, 'WORKDIR'), '/app');
  assert.equal(one(runtime, 'EXPOSE'), String(defaultPort));
});

test('every path the Dockerfile copies from the build context exists and is not excluded by .dockerignore', () => {
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  assert.ok(!ignored.some((p) => p.startsWith('!')), 'no re-inclusions: this check does not model them');
  for (const must of ['node_modules', '.git', 'dist', 'dist-*']) assert.ok(ignored.includes(must), `.dockerignore lists ${must}`);
  const escape = (text: string) => text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  const glob = (pattern: string) =>
    new RegExp(`^${pattern.split('**').map((a) => a.split('*').map((b) => b.split('?').map(escape).join('[^/]')).join('[^/]*')).join('.*')}$`);
  const sources = stages.flatMap((s) => copies(s).filter((c) => c.from === undefined).flatMap((c) => c.sources));
  assert.ok(sources.length >= 5, JSON.stringify(sources));
  for (const source of sources) {
    assert.ok(existsSync(join(ROOT, source)), `${source} exists in the repo`);
    const prefixes = source.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    const hit = ignored.find((p) => prefixes.some((prefix) => glob(p.replace(/\/$/, '')).test(prefix)));
    assert.equal(hit, undefined, `${source} is excluded from the build context by "${hit}"`);
  }
});

test("the HEALTHCHECK uses node's fetch on /health (no curl or wget), and its command passes on a serving gateway and fails on a closed port", async (t) => {
  const healthcheck = one(runtime, 'HEALTHCHECK');
  assert.doesNotMatch(healthcheck, /\b(curl|wget)\b/);
  const cmd = /\bCMD\s+(\[.*\])\s*$/.exec(healthcheck);
  assert.ok(cmd, 'exec form CMD');
  const [program, flag, script] = JSON.parse(cmd[1] as string) as string[];
  assert.equal(program, 'node');
  assert.equal(flag, '-e');
  assert.match(script as string, /\/health\b/);
  assert.match(script as string, new RegExp(`\\|\\| ${defaultPort}\\b`), 'falls back to the config\'s default port');

  // Run it as the container would, with PORT naming the gateway's port; never with spawnSync,
  // which would block the gateway in this process from answering.
  const run = (port: number) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['-e', script as string], { env: { PORT: String(port) }, stdio: 'ignore' });
      child.on('exit', resolve);
    });
  const gw = await startGateway('routes:\n  - path: /x\n    upstream: http://127.0.0.1:1\n');
  t.after(() => gw.close());
  assert.equal(await run(gw.port), 0);
  assert.equal(await run(await freePort()), 1);
});

test('the CLI reads its config from $THROTTLEGATE_CONFIG when --config is not given, as the image does', () => {
  const cli = join(ROOT, 'dist', 'cli.js');
  const file = join(DEPLOY, 'config', 'gateway.yaml');
  const env = { PATH: process.env.PATH, THROTTLEGATE_CONFIG: file, REDIS_URL: 'redis://redis:6379', UPSTREAM_URL: 'http://origin:9000' };
  const ok = spawnSync(process.execPath, [cli, 'validate'], { cwd: ROOT, env, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`config OK: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  // The same file without the variable it needs fails: the file read was this one, not configs/config.yaml.
  const failed = spawnSync(process.execPath, [cli, 'validate'], { cwd: ROOT, env: { ...env, REDIS_URL: '' }, encoding: 'utf8' });
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /REDIS_URL is not set/);
});

// ---- deploy/compose.yaml ----

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { disable?: boolean };
  stop_grace_period?: string;
}
// YAML 1.1: compose files may use `<<` merge keys, which the core schema does not resolve.
const compose = loadYaml(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { schema: YAML11_SCHEMA }) as { services: Record<string, Service> };
const services = compose.services;
const GATEWAYS = ['gateway-1', 'gateway-2'];
/** deploy/config/gateway.yaml's port, read with the environment compose gives it. */
const gatewayPort = () => parseConfig(read('deploy/config/gateway.yaml'), 'gateway.yaml', service('gateway-1').environment ?? {}).server.port;
const service = (name: string) => {
  assert.ok(services[name], `compose has a service "${name}"`);
  return services[name] as Service;
};
/** A short-syntax bind mount: host path (relative to deploy/) and container path. */
const mounts = (s: Service) =>
  (s.volumes ?? []).map((v) => {
    const [host = '', container = ''] = v.split(':');
    return { host: join(DEPLOY, host), container };
  });
/** The file a container sees at `path`, through its bind mounts (a file, or a file inside a mounted directory). */
const hostFile = (s: Service, path: string) => {
  const m = mounts(s).find((x) => path === x.container || path.startsWith(`${x.container}/`));
  assert.ok(m, `${path} is mounted`);
  return join(m.host, posix.relative(m.container, path));
};

test('compose runs the documented services: two gateways, one Redis, the demo origin and traffic, Prometheus, Grafana', () => {
  assert.deepEqual(Object.keys(services).sort(), ['gateway-1', 'gateway-2', 'grafana', 'origin', 'prometheus', 'redis', 'traffic-1', 'traffic-2']);
  assert.ok(existsSync(join(DEPLOY, '..', 'Dockerfile')));
  for (const name of [...GATEWAYS, 'origin', 'traffic-1', 'traffic-2']) {
    assert.deepEqual(service(name).build, { context: '..', dockerfile: 'Dockerfile' }, `${name} runs this repo's image`);
  }
  for (const name of ['redis', 'prometheus', 'grafana']) assert.match(service(name).image as string, /:v?\d+\.\d+\.\d+(-[a-z]+)?$/, `${name} pinned`);
});

test('every file and directory compose mounts exists', () => {
  const missing = Object.entries(services).flatMap(([name, s]) => mounts(s).filter((m) => !existsSync(m.host)).map((m) => `${name}: ${m.host}`));
  assert.deepEqual(missing, []);
});

test('both gateways read one valid config from a mounted directory, on the same Redis, in front of the origin', () => {
  const redisUrls = new Set<string>();
  for (const name of GATEWAYS) {
    const gw = service(name);
    const [command, flag, path] = gw.command ?? [];
    assert.deepEqual([command, flag], ['serve', '--config']);
    // The directory is mounted, not the file: an editor's save replaces the file, which a file bind mount would not follow.
    assert.ok(mounts(gw).some((m) => m.container === dirname(path as string)), `${name} mounts the config's directory`);
    const file = hostFile(gw, path as string);
    const config = parseConfig(readFileSync(file, 'utf8'), file, gw.environment ?? {});
    assert.equal(config.store.type, 'redis');
    assert.ok(config.store.redis);
    for (const url of config.store.redis.urls) {
      assert.equal(new URL(url).hostname, 'redis');
      redisUrls.add(url);
    }
    const origin = service('origin').command ?? [];
    assert.deepEqual(origin.slice(0, 2), ['traffic', '--origin']);
    const originPort = origin[origin.indexOf('--port') + 1];
    for (const route of config.routes) assert.equal(route.upstreamOrigin, `http://origin:${originPort}`);
    assert.ok(gw.ports?.some((p) => p.endsWith(`:${config.server.port}`)), `${name} publishes ${config.server.port}`);
    // The image's HEALTHCHECK asks PORT, else the default port: the port this config listens on.
    assert.equal(Number(gw.environment?.PORT ?? defaultPort), config.server.port);
    // compose sends SIGKILL after stop_grace_period: the drain must fit in it.
    const stopGrace = /^(\d+)s$/.exec(gw.stop_grace_period ?? '');
    assert.ok(stopGrace && Number(stopGrace[1]) * 1000 > config.server.shutdownGraceMs, `stop_grace_period ${gw.stop_grace_period} > shutdown_grace_ms`);
  }
  assert.equal(redisUrls.size, 1, 'one Redis for both');
});

test('the demo traffic targets the gateways on their config port', () => {
  const port = gatewayPort();
  const targets = ['traffic-1', 'traffic-2'].map((name) => {
    const command = service(name).command ?? [];
    return command[command.indexOf('--target') + 1];
  });
  assert.deepEqual(targets, GATEWAYS.map((g) => `http://${g}:${port}`));
});

test('Prometheus scrapes both gateways and loads the shipped alert rules', () => {
  const prometheus = service('prometheus');
  const configPath = (prometheus.command ?? []).find((a) => a.startsWith('--config.file='))?.slice('--config.file='.length);
  assert.ok(configPath);
  const config = loadYaml(readFileSync(hostFile(prometheus, configPath), 'utf8')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
  };
  const job = config.scrape_configs.find((j) => j.job_name === 'throttlegate');
  assert.ok(job);
  assert.equal(job.metrics_path ?? '/metrics', '/metrics');
  const port = gatewayPort();
  assert.deepEqual(job.static_configs.flatMap((s) => s.targets).sort(), GATEWAYS.map((g) => `${g}:${port}`));
  assert.deepEqual(config.rule_files.map((f) => hostFile(prometheus, f)), [join(DEPLOY, 'prometheus', 'alerts.yaml')]);
});

test('Grafana provisions the Prometheus datasource and the shipped board', () => {
  const grafana = service('grafana');
  const provisioning = hostFile(grafana, '/etc/grafana/provisioning');
  const datasources = loadYaml(readFileSync(join(provisioning, 'datasources', 'prometheus.yaml'), 'utf8')) as { datasources: { uid: string; type: string; url: string }[] };
  const [ds] = datasources.datasources;
  assert.equal(ds?.type, 'prometheus');
  assert.equal(new URL(ds?.url as string).host, 'prometheus:9090');
  const providers = loadYaml(readFileSync(join(provisioning, 'dashboards', 'throttlegate.yaml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
  const dir = providers.providers[0]?.options.path as string;
  const board = hostFile(grafana, posix.join(dir, 'throttlegate.json'));
  assert.equal(board, join(DEPLOY, 'grafana', 'throttlegate.json'));
  assert.equal(basename(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? ''), 'throttlegate.json');
  // Panels name their datasource by uid (or through a template variable): the provisioned uid must be the one they name.
  const uids = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const source = o.datasource as { uid?: unknown; type?: unknown } | undefined;
    // Grafana's own annotation source ("-- Grafana --") is built in; `$name` is a template variable.
    const named = source && typeof source === 'object' && typeof source.uid === 'string' && source.type !== 'grafana';
    if (named && !/^(\$|--)/.test(source.uid as string)) uids.add(source.uid as string);
    Object.values(o).forEach(walk);
  };
  walk(JSON.parse(readFileSync(board, 'utf8')));
  assert.deepEqual([...uids].filter((u) => u !== ds?.uid), [], `the board names datasource uids the provisioning does not have (it has "${ds?.uid}")`);
});
