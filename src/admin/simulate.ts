import type { GatewayConfig } from '../config/types.js';
import { RESERVED_PATHS } from '../config/validate.js';
import { accessMatcherOf } from '../limit/access.js';
import { gateOf } from '../limit/gate.js';
import { summarise } from '../limit/decision.js';
import { MemoryStore } from '../limit/stores/memory.js';
import type { LimitOutcome } from '../limit/stores/store.js';
import { normaliseTarget } from '../routing/normalise.js';
import { RouteTable } from '../routing/table.js';
import { createIdentifier } from './simulate-identity.js';
import { parseLine, readLines, type LogRequest } from './simulate-log.js';
import { VirtualClock, VirtualQueues } from './simulate-queue.js';
import { Tally, type SimulationReport } from './simulate-report.js';
import { checkOf, limitSetFor, waitOf } from '../limit/sets.js';

export type { SimulationReport, RouteRow } from './simulate-report.js';

const RESERVED = new Set<string>(RESERVED_PATHS);

/**
 * Replays a request log against `config` on a virtual clock and counts what
 * the gateway would have done with each request, per route and limit set.
 *
 * Every decision goes through the gateway's own code: the route table and
 * path normalisation, keys.ts, the access lists, the route's limit sets and
 * cost, and a MemoryStore whose clock is the log's time, in the order of
 * src/limit/hook.ts (deny -> require_api_key -> allow -> limits). Only the
 * on_limit queue is modelled (simulate-queue.ts), since it sets real timers.
 *
 * A log has no response times unless its lines carry `duration_ms` (the
 * gateway's own lines do): a concurrency slot is held from the request's
 * admission for that long, 0 ms when absent, so without durations a
 * concurrency limit never refuses. The gateway's lines are written when the
 * response ends, so `time` there is the end of a request, not its arrival:
 * each is replayed as arriving then. Lines earlier than the line before are
 * replayed at the later instant (the store's clock never goes back).
 */
export function simulate(config: GatewayConfig, lines: Iterable<string>): SimulationReport {
  const started = performance.now();
  const clock = new VirtualClock();
  const now = () => clock.now;
  const store = new MemoryStore(config.store.memory, { clock: now, autoSweep: false });
  const queues = new VirtualQueues(clock);
  const table = new RouteTable(config.routes);
  const identify = createIdentifier(config, now);
  const tally = new Tally();
  const { maxBodyBytes } = config.server;
  // The gateway sweeps once per interval; doing the same on virtual time keeps memory bounded on a long log.
  const sweepEvery = config.store.memory.sweepIntervalMs;
  let nextSweep = -Infinity;

  function replay(req: LogRequest): void {
    const target = normaliseTarget(req.target);
    // Reserved paths (/health, /ready, /metrics) are the gateway's own answers, never a route's.
    if (!target.ok || RESERVED.has(target.path)) return tally.count(null, undefined, 'unrouted');
    const match = table.match(target.path, req.method, req.host);
    if (match.route === undefined) return tally.count(match.refusal === 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED' ? match.on : null, undefined, 'unrouted');
    const route = match.route;
    const length = req.headers?.['content-length'];
    if (length !== undefined && Number(length) > maxBodyBytes) return tally.count(route, undefined, 'too_large');
    const policy = route.policy;
    const access = accessMatcherOf(route);
    if (policy === null && !route.requireApiKey && access.empty) return tally.count(route, undefined, 'unlimited');
    const { client, ip } = identify(req, route, target.query);
    const sets = route.limitSets;
    const set = sets === null ? undefined : limitSetFor(sets, client, undefined);
    // Offline there are no overrides, so no block.
    const gate = gateOf(route, client, ip, undefined);
    if (gate !== undefined) return tally.count(route, set, gate === 'blocked' ? 'denied' : gate);
    if (policy === null || set === undefined) return tally.count(route, set, 'unlimited');

    const check = checkOf(set, client, route);
    const finish = (outcome: LimitOutcome, delayed: boolean): void => {
      // Admitted while holding a concurrency slot: the response ends duration_ms later.
      if (outcome.release) {
        if (req.durationMs === 0) outcome.release();
        else clock.at(clock.now + req.durationMs, outcome.release);
      }
      const decision = summarise(policy, set, outcome);
      // The order of access-log.ts decisionLabel: refused, else shadow_limited, else delayed or allowed.
      if (!decision.allowed) tally.count(route, set, 'refused', client.label);
      else tally.count(route, set, decision.shadowLimited ? 'shadow_limited' : delayed ? 'delayed' : 'allowed');
    };
    const outcome = store.check(check);
    const onLimit = policy.onLimit;
    if (outcome.allowed || onLimit === null || outcome.reason !== undefined) return finish(outcome, false);
    const queued = queues.enqueue(`${set.group}\u0000${client.key}`, onLimit.maxQueue, outcome, {
      attempt: () => store.check(check),
      waitOf: (o, ahead) => waitOf(set.limits, o, ahead),
      cost: route.cost,
      deadline: clock.now + onLimit.delayUpToMs,
      finish: (o) => finish(o, o.allowed),
    });
    if (!queued) finish(outcome, false);
  }

  let lineNo = 0;
  for (const text of lines) {
    lineNo++;
    if (text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === '')) continue;
    tally.lines++;
    const req = parseLine(text);
    if (req === 'skip') tally.skipped++;
    else if (req === 'malformed') tally.malformedAt(lineNo);
    else {
      tally.requests++;
      if (req.time < clock.now) tally.outOfOrder++;
      if (req.time < tally.first) tally.first = req.time;
      if (req.time > tally.last) tally.last = req.time;
      clock.advanceTo(req.time);
      if (clock.now >= nextSweep) {
        store.sweep();
        nextSweep = clock.now + sweepEvery;
      }
      replay(req);
    }
  }
  // Requests still held when the log ends get their answer; slots still held are released.
  clock.drain();
  void store.close();
  return tally.report(performance.now() - started);
}

/** simulate() over a file's lines; throws the file's read error (ENOENT...). */
export function simulateFile(config: GatewayConfig, file: string): SimulationReport {
  return simulate(config, readLines(file));
}
