import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load as loadYaml, CORE_SCHEMA } from 'js-yaml';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { send } from '../helpers/http.js';
import { postgresAvailable, testSchema } from '../helpers/postgres.js';

/**
 * The shipped monitoring (deploy/prometheus/alerts.yaml, its promtool unit
 * tests, deploy/grafana/throttlegate.json) against promtool and against the
 * metric families a real gateway exports: a renamed metric must break this
 * test, not a dashboard in production.
 */
const file = (path: string) => fileURLToPath(new URL(`../../../deploy/${path}`, import.meta.url));
const RULES = file('prometheus/alerts.yaml');
const RULE_TESTS = file('prometheus/alerts.test.yaml');
const DASHBOARD = file('grafana/throttlegate.json');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Panel {
  type: string;
  title?: string;
  targets?: { expr?: unknown }[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}

const rules = (): Rule[] => {
  const doc = loadYaml(readFileSync(RULES, 'utf8'), { schema: CORE_SCHEMA }) as { groups: { name: string; rules: Rule[] }[] };
  assert.deepEqual(doc.groups.map((g) => g.name), ['throttlegate']);
  return doc.groups[0]!.rules;
};
const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Every panel, those inside (collapsed) rows included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

// PromQL words that look like identifiers but name no series. Functions and
// aggregations need no list: they are the identifiers followed by "(".
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'atan2', 'inf', 'nan']);

/**
 * The metric names a PromQL expression (or a Grafana query holding
 * `$variables`) selects. Strings, label matchers `{...}`, ranges `[...]` and
 * grouping label lists `by (...)`, `on (...)` are removed first, so label
 * names and values never count; numbers and durations are their own tokens.
 */
function metricNames(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' "" ')
    .replace(/#[^\n]*/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[0-9][\w.]*|\.[0-9][\w.]*|([A-Za-z_:][\w:]*)(\s*\()?|\S/g)) {
    const [, ident, call] = m;
    if (ident === undefined || call !== undefined || KEYWORDS.has(ident.toLowerCase())) continue;
    names.add(ident);
  }
  return names;
}

/** A Grafana variable query: label_values(SELECTOR, LABEL) names SELECTOR's metric, not LABEL. */
function variableNames(query: string): Set<string> {
  const m = /^\s*label_values\((.*),\s*[A-Za-z_]\w*\s*\)\s*$/s.exec(query);
  return metricNames(m === null ? query : m[1]!);
}

/** Metric families in a text exposition: name -> TYPE (families without samples yet included). */
function exportedFamilies(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const typed = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typed) out.set(typed[1]!, typed[2]!);
    else if (line !== '' && !line.startsWith('#')) {
      const name = /^[A-Za-z_:][\w:]*/.exec(line)?.[0];
      if (name !== undefined && !out.has(name)) out.set(name, 'sample');
    }
  }
  return out;
}

/** Whether `name` is exported: as a family, or as the _bucket/_sum/_count series of an exported histogram (or summary). */
function isExported(name: string, families: Map<string, string>): boolean {
  if (families.has(name)) return true;
  const m = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (m === null) return false;
  const type = families.get(m[1]!);
  return type === 'histogram' || (type === 'summary' && m[2] !== 'bucket');
}

/** promtool on PATH; otherwise fail in CI (.ci/run installs it), skip loudly elsewhere. */
function havePromtool(t: { skip(reason: string): void }): boolean {
  if (spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI === 'true') assert.fail('promtool is required in CI (.ci/run installs the prometheus package)');
  console.warn('\n*** promtool not on PATH: SKIPPING the alert rule checks (apt-get install prometheus) ***\n');
  t.skip('promtool not installed');
  return false;
}

function promtool(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: dirname(RULES), encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

test('the metric-name extractor finds series names and nothing else', () => {
  const names = (expr: string) => [...metricNames(expr)].sort();
  assert.deepEqual(names('up{job=~".*throttlegate.*"} == 0'), ['up']);
  assert.deepEqual(
    names('histogram_quantile(0.99, sum by (job, route, le) (rate(a_seconds_bucket{route!="none"}[5m]))) > 1 and sum by (route) (rate(a_seconds_count[5m])) > 0.1'),
    ['a_seconds_bucket', 'a_seconds_count'],
  );
  assert.deepEqual(names('increase(x_total{result="error"}[15m]) > 0 or (x_total unless x_total offset 15m)'), ['x_total']);
  assert.deepEqual(names('sum(rate(a_total{route=~"$route", status="429"}[$__rate_interval])) by (route) / on(route) group_left sum(b_total)'), ['a_total', 'b_total']);
  assert.deepEqual(names('label_replace(c_gauge, "dst", "$1 {x} [y]", "src", "(.*)") * bool 1e3 + Inf'), ['c_gauge']);
  assert.deepEqual(names('max by (instance, hash) (d:recorded:rate5m) @ start()'), ['d:recorded:rate5m']);
  assert.deepEqual([...variableNames('label_values(e_total{route!="none"}, route)')], ['e_total']);
});

test('every alert rule has a for, a severity, a summary and a description', () => {
  const list = rules();
  assert.ok(list.length >= 6, `${list.length} rules`);
  for (const r of list) {
    assert.match(r.alert, /^Throttlegate[A-Z]\w+$/);
    assert.match(String(r.for), /^\d+[smh]$/, `${r.alert}: for`);
    assert.ok(['critical', 'warning'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
    assert.ok((r.annotations?.summary ?? '').length > 10, `${r.alert}: summary`);
    assert.ok((r.annotations?.description ?? '').length > 40, `${r.alert}: description`);
  }
});

test('every alert rule has a promtool unit test that sees it fire and one that sees it silent', () => {
  const doc = loadYaml(readFileSync(RULE_TESTS, 'utf8'), { schema: CORE_SCHEMA }) as {
    rule_files: string[];
    tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
  };
  assert.deepEqual(doc.rule_files, ['alerts.yaml']);
  const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const { alert } of rules()) {
    const mine = cases.filter((c) => c.alertname === alert);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert}: a case where it fires`);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert}: a case where it does not`);
  }
});

test('promtool check rules accepts the alert rules', (t) => {
  if (!havePromtool(t)) return;
  const r = promtool(['check', 'rules', RULES]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, new RegExp(`SUCCESS: ${rules().length} rules found`));
});

test('promtool test rules passes every alert unit test', (t) => {
  if (!havePromtool(t)) return;
  const r = promtool(['test', 'rules', RULE_TESTS]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS/);
});

test('the Grafana dashboard parses, takes its data source and routes as variables, and no panel lacks a query', () => {
  const d = dashboard();
  assert.ok(d.schemaVersion >= 36, `schemaVersion ${d.schemaVersion}`);
  const vars = new Map(d.templating.list.map((v) => [v.name, v]));
  assert.equal(vars.get('datasource')?.type, 'datasource');
  assert.equal(vars.get('datasource')?.query, 'prometheus');
  assert.equal(vars.get('route')?.type, 'query');
  assert.match(JSON.stringify(vars.get('route')?.query), /label_values\(throttlegate_requests_total, route\)/);
  const panels = allPanels(d.panels).filter((p) => p.type !== 'row');
  assert.ok(panels.length >= 15, `${panels.length} panels`);
  assert.ok(d.panels.some((p) => p.type === 'row' && (p.panels ?? []).length > 0), 'a collapsed row holds panels (walked too)');
  for (const p of panels) {
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
    for (const target of p.targets!) assert.ok(typeof target.expr === 'string' && target.expr.trim() !== '', `panel "${p.title}": every target has an expr`);
    assert.match(JSON.stringify(p), /"uid":"\$\{datasource\}"/, `panel "${p.title}" uses the datasource variable`);
  }
});

/** Metric names by where they are used: each alert and each dashboard panel (and the route variable). */
function usedNames(): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  for (const r of rules()) used.set(`alert ${r.alert}`, metricNames(r.expr));
  const d = dashboard();
  for (const p of allPanels(d.panels)) {
    const names = (p.targets ?? []).flatMap((t) => [...metricNames(String(t.expr))]);
    if (names.length > 0) used.set(`panel "${p.title}"`, new Set(names));
  }
  for (const v of d.templating.list) if (v.type === 'query') used.set(`variable ${v.name}`, variableNames(String(v.definition)));
  return used;
}

test('every metric the alerts and the dashboard use is one a real gateway exports', async (t) => {
  const used = usedNames();
  const all = new Set([...used.values()].flatMap((s) => [...s]));
  // What the issue asks the board and the alerts to show: a broken extractor (finding nothing) fails here.
  for (const name of [
    'throttlegate_requests_total', 'throttlegate_request_duration_seconds_bucket', 'throttlegate_rate_limited_total', 'throttlegate_shadow_limited_total',
    'throttlegate_upstream_errors_total', 'throttlegate_upstream_requests_total', 'throttlegate_upstream_healthy', 'throttlegate_circuit_state',
    'throttlegate_store_errors_total', 'throttlegate_store_up', 'throttlegate_config_reloads_total', 'throttlegate_risk_clients',
    'throttlegate_adaptive_actions_total', 'throttlegate_route_concurrency_limit', 'throttlegate_shed_total', 'up',
    'throttlegate_key_store_up', 'throttlegate_api_keys',
  ]) assert.ok(all.has(name), `${name} is used`);

  // A gateway with every optional family on: admin, adaptive protection, a
  // pool with health checks, passive ejection and a circuit breaker,
  // adaptive concurrency, a shadow limit, API keys in PostgreSQL. (The store
  // families are registered with the memory store too.)
  const keyStore = (await postgresAvailable()) ? await testSchema() : undefined;
  t.after(() => keyStore?.drop());
  const up = await startUpstream();
  const gw = await startGateway(`rate_limit: { requests_per_second: 1000, burst: 1000 }
${keyStore === undefined ? '' : `key_store: { type: postgres, postgres: { url: "${keyStore.url}", schema: ${keyStore.schema} } }`}
admin: { token: monitoring-test-token-0123456789 }
adaptive: { mode: shadow }
routes:
  - path: /api
    upstream:
      targets:
        - { url: ${up.url} }
      health_check: { path: /healthz, interval: 1s, timeout: 500ms }
      passive: { eject_after: 5, eject_for: 30s }
      circuit_breaker: { error_rate: 0.5, min_requests: 20, window: 10s, open_for: 15s }
    adaptive_concurrency: true
    rate_limit:
      limits:
        - { requests_per_second: 1000, burst: 1000 }
        - { algorithm: fixed_window, limit: 1, window: 1h, mode: shadow }
`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  for (let i = 0; i < 3; i++) assert.equal((await send(gw.url, `/api/items/${i}`)).status, 200);
  assert.equal((await send(gw.url, '/nowhere')).status, 404);
  const res = await send(gw.url, '/metrics');
  assert.equal(res.status, 200);
  const families = exportedFamilies(res.text);
  // The exposition read right: a family with samples, and one registered without any yet.
  assert.equal(families.get('throttlegate_request_duration_seconds'), 'histogram');
  assert.equal(families.get('throttlegate_config_reloads_total'), 'counter');

  const missing: string[] = [];
  for (const [where, names] of used)
    for (const name of names) if (name !== 'up' && !(keyStore === undefined && /_key_store_|_api_keys/.test(name)) && !isExported(name, families)) missing.push(`${where}: ${name}`);
  assert.deepEqual(missing, [], 'metrics used by alerts or panels that the gateway does not export');
});
