import type { LimitSpec } from '../limit/algorithms/types.js';
import { tokenBucket } from '../limit/algorithms/token-bucket.js';
import { FeatureTable } from './features.js';
import { networkOf } from './signal.js';
import { fitLogistic, evaluate, type Evaluation, type TrainingRow } from './train.js';
import { generate, originStatus, type MixSpec, type TrafficEvent } from './traffic/index.js';
import { FEATURE_COUNT, FEATURE_NAMES, type RequestSignal } from './types.js';
import type { Weights } from './model.js';

/**
 * Training on labelled traffic from the bundled generator, in simulation:
 * each event is decided by a token bucket per client (the limit a user would
 * configure), answered as the bundled origin would (originStatus), and folded
 * into a FeatureTable as the gateway folds real requests. A client's feature
 * vector is sampled at its first request (its head alone: firstSight) and
 * after its 1st, 3rd, 5th, 10th, 20th... request, so the model learns to judge
 * early, as it must. Pure and deterministic.
 */

/** The limit the simulation holds every client to: 10 requests per second, burst 20. */
export const SIMULATED_LIMIT: LimitSpec = { id: 'sim', algorithm: 'token_bucket', scope: 'client', rate: 10, capacity: 20, windowMs: 2000, mode: 'enforce', leaseMs: 0 };

const SAMPLE_AT = new Set([1, 3, 5, 10, 20, 40, 80, 160, 320, 640]);

/** The state key a client has in the gateway: its API key when it presents one, else its address. */
export function clientKeyOf(event: TrafficEvent): string {
  return event.apiKey === undefined ? `ip:${event.ip}` : `key:${event.apiKey}`;
}

/** Every sampled feature vector of one simulated run, labelled by the class that produced it. */
export function simulate(mix: MixSpec, seed: number, durationMs: number): TrainingRow[] {
  const events = generate(mix, seed, durationMs);
  const table = new FeatureTable({ maxClients: 200_000, seed });
  const buckets = new Map<string, readonly number[]>();
  const seen = new Map<string, number>();
  const rows: TrainingRow[] = [];
  for (const event of events) {
    const key = clientKeyOf(event);
    const step = tokenBucket.step(buckets.get(key), event.at, SIMULATED_LIMIT, 1);
    if (step.allowed) buckets.set(key, step.next);
    const signal = signalOfEvent(event, key, !step.allowed);
    // The first request is judged on its head alone, as the gateway judges a client it has not seen.
    if (!seen.has(key)) {
      const x = new Float64Array(FEATURE_COUNT);
      table.firstSight(signal, event.at, x);
      rows.push({ x, y: event.label === 'bad' ? 1 : 0 });
    }
    table.observe(signal);
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (SAMPLE_AT.has(n)) {
      const x = new Float64Array(FEATURE_COUNT);
      if (table.features(key, event.at, x)) rows.push({ x, y: event.label === 'bad' ? 1 : 0 });
    }
  }
  return rows;
}

function signalOfEvent(event: TrafficEvent, clientKey: string, refused: boolean): RequestSignal {
  return {
    at: event.at,
    method: event.method,
    path: event.path,
    status: refused ? 429 : originStatus(event),
    refused,
    bodyBytes: event.bodyBytes,
    userAgent: event.userAgent,
    hasAccept: event.accept !== undefined,
    hasAcceptLanguage: event.acceptLanguage !== undefined,
    network: networkOf(event.ip),
    clientKey,
    limitRate: SIMULATED_LIMIT.rate,
  };
}

/** Rows of the minority label repeated until both labels weigh alike (fitLogistic has no class weights). */
export function balanced(rows: readonly TrainingRow[]): TrainingRow[] {
  const bad = rows.filter((r) => r.y === 1);
  const good = rows.filter((r) => r.y === 0);
  const [few, many] = bad.length < good.length ? [bad, good] : [good, bad];
  if (few.length === 0) return [...rows];
  const out = [...many];
  for (let i = 0; i < many.length; i++) out.push(few[i % few.length] as TrainingRow);
  return out;
}

export interface TrainingResult {
  readonly weights: Weights;
  /** On a run of the generator with another seed than the one trained on, at the suspicious band's bound (60). */
  readonly heldOut: Evaluation;
  readonly rows: number;
}

export const TRAINING = { seed: 17, heldOutSeed: 1017, durationMs: 120_000, epochs: 60, learningRate: 0.5, l2: 0.0005 } as const;

/** Fits the shipped model: `npm run train` writes its weights to models/risk-v1.json. */
export function train(mix: MixSpec, version: string): TrainingResult {
  const rows = simulate(mix, TRAINING.seed, TRAINING.durationMs);
  const fitted = fitLogistic(balanced(rows), { epochs: TRAINING.epochs, learningRate: TRAINING.learningRate, l2: TRAINING.l2, seed: TRAINING.seed, nonNegative: true });
  const heldOut = evaluate(simulate(mix, TRAINING.heldOutSeed, TRAINING.durationMs), fitted, 60);
  return { weights: { version, features: FEATURE_NAMES, bias: fitted.bias, weights: fitted.weights }, heldOut, rows: rows.length };
}

/** How one traffic class fared under a model, client by client (a stuffer's every key is a client). */
export interface ClassReport {
  readonly clients: number;
  /** Share of its clients whose score reached the suspicious band's bound at some request. */
  readonly acted: number;
  /** Share that reached the blocked band's bound. */
  readonly blocked: number;
  /** Median number of a client's requests before it was first acted on, over those acted on. */
  readonly medianRequestsToAct: number;
}

/**
 * Replays a generated run through a FeatureTable and `score`, as the gateway
 * assesses each client at each request (the features of its requests so far;
 * for its first, what the request's head says), and reports per class.
 */
export function classReport(mix: MixSpec, seed: number, durationMs: number, score: (x: Float64Array) => number, bounds = { suspicious: 60, blocked: 85 }): Record<string, ClassReport> {
  const table = new FeatureTable({ maxClients: 200_000, seed });
  const buckets = new Map<string, readonly number[]>();
  const perClient = new Map<string, { cls: string; n: number; actedAt: number; blocked: boolean }>();
  const x = new Float64Array(FEATURE_COUNT);
  for (const event of generate(mix, seed, durationMs)) {
    const key = clientKeyOf(event);
    let c = perClient.get(key);
    if (c === undefined) perClient.set(key, (c = { cls: event.cls, n: 0, actedAt: 0, blocked: false }));
    c.n++;
    const step = tokenBucket.step(buckets.get(key), event.at, SIMULATED_LIMIT, 1);
    if (step.allowed) buckets.set(key, step.next);
    const signal = signalOfEvent(event, key, !step.allowed);
    if (!table.features(key, event.at, x)) table.firstSight(signal, event.at, x);
    const s = score(x);
    if (s >= bounds.suspicious && c.actedAt === 0) c.actedAt = c.n;
    if (s >= bounds.blocked) c.blocked = true;
    table.observe(signal);
  }
  const byClass = new Map<string, { cls: string; n: number; actedAt: number; blocked: boolean }[]>();
  for (const c of perClient.values()) byClass.set(c.cls, [...(byClass.get(c.cls) ?? []), c]);
  const out: Record<string, ClassReport> = {};
  for (const [cls, clients] of byClass) {
    const acted = clients.filter((c) => c.actedAt > 0).map((c) => c.actedAt).sort((a, b) => a - b);
    out[cls] = {
      clients: clients.length,
      acted: acted.length / clients.length,
      blocked: clients.filter((c) => c.blocked).length / clients.length,
      medianRequestsToAct: acted.length === 0 ? 0 : (acted[Math.floor(acted.length / 2)] as number),
    };
  }
  return out;
}
