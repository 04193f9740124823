import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { boundedTracestate, formatTraceparent, parseTraceparent, type TraceFields } from '../../src/tracing/traceparent.js';
import { beginTrace, ratioBound, traceIdBelow } from '../../src/tracing/context.js';
import { newSpanId, newTraceId } from '../../src/tracing/ids.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

function fields(): TraceFields {
  return { traceId: '', spanId: '', parentSpanId: undefined, traceFlags: 0, traceState: undefined };
}

function parsed(value: string): TraceFields | undefined {
  const into = fields();
  return parseTraceparent(value, into) ? into : undefined;
}

test('a version 00 traceparent gives its trace id, parent id and flags', () => {
  assert.deepEqual(parsed(`00-${TRACE}-${PARENT}-01`), { traceId: TRACE, spanId: '', parentSpanId: PARENT, traceFlags: 1, traceState: undefined });
  assert.equal(parsed(`00-${TRACE}-${PARENT}-00`)?.traceFlags, 0);
});

test('flags other than sampled and random are sent as zero, as Level 1 asks of unknown flags', () => {
  assert.equal(parsed(`00-${TRACE}-${PARENT}-ff`)?.traceFlags, 0x03);
  assert.equal(parsed(`00-${TRACE}-${PARENT}-08`)?.traceFlags, 0);
});

test('malformed traceparents are refused and write nothing', () => {
  const bad = [
    '',
    'garbage',
    `00-${TRACE}-${PARENT}`, // no flags
    `00-${TRACE}-${PARENT}-1`, // one flag digit
    `00-${TRACE.toUpperCase()}-${PARENT}-01`, // uppercase hex
    `00-${TRACE}-${PARENT.toUpperCase()}-01`,
    `0A-${TRACE}-${PARENT}-01`, // uppercase version
    `00-${'0'.repeat(32)}-${PARENT}-01`, // all-zero trace id
    `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero parent id
    `ff-${TRACE}-${PARENT}-01`, // version ff is invalid
    `00-${TRACE}-${PARENT}-01-extra`, // version 00 is exactly 55 characters
    `00-${TRACE}-${PARENT}-01 `,
    `00_${TRACE}-${PARENT}-01`, // wrong separator
    `00-${TRACE.slice(1)}g-${PARENT}-01`, // non-hex
    `00-${TRACE}0-${PARENT.slice(1)}-01`, // fields shifted
    `00-${TRACE}-${PARENT}-01,00-${TRACE}-${PARENT}-01`, // two fields, joined by Node
    `00-${TRACE}-${PARENT}-01, 00-${TRACE}-${PARENT}-01`,
    `01-${TRACE}-${PARENT}-01x`, // a higher version: what follows the 55 characters must start with '-'
  ];
  for (const value of bad) {
    const into = fields();
    assert.equal(parseTraceparent(value, into), false, value);
    assert.deepEqual(into, fields(), `${value} wrote into the fields`);
  }
});

test('a higher version is read by its first 55 characters, as the spec asks of a newer version', () => {
  assert.equal(parsed(`01-${TRACE}-${PARENT}-01`)?.traceId, TRACE);
  assert.equal(parsed(`cc-${TRACE}-${PARENT}-01-what-the-future-will-hold`)?.parentSpanId, PARENT);
});

test('the forwarded traceparent is version 00 with the gateway span id and the flags', () => {
  const f = { ...fields(), traceId: TRACE, spanId: 'b7ad6b7169203331', traceFlags: 1 };
  assert.equal(formatTraceparent(f), `00-${TRACE}-b7ad6b7169203331-01`);
  assert.equal(formatTraceparent({ ...f, traceFlags: 0 }), `00-${TRACE}-b7ad6b7169203331-00`);
  assert.deepEqual(parsed(formatTraceparent(f))?.parentSpanId, 'b7ad6b7169203331');
});

test('tracestate: passed on as it came when small, discarded over 32 members, shortened past 512 characters', () => {
  assert.equal(boundedTracestate(undefined), undefined);
  assert.equal(boundedTracestate(''), undefined);
  assert.equal(boundedTracestate(['a=1', 'b=2']), undefined);
  assert.equal(boundedTracestate('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'), 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  const members = (n: number) => Array.from({ length: n }, (_, i) => `k${i}=v${i}`).join(',');
  assert.equal(boundedTracestate(members(32)), members(32));
  assert.equal(boundedTracestate(members(33)), undefined);
  // Over 512: the member over 128 characters goes first, then members from the right until it fits.
  const long = `big=${'x'.repeat(200)}`;
  const filler = Array.from({ length: 20 }, (_, i) => `vendor${i}=${'y'.repeat(20)}`);
  const shortened = boundedTracestate([filler[0], long, ...filler.slice(1)].join(','));
  assert.ok(shortened !== undefined && shortened.length <= 512, `${shortened?.length}`);
  assert.ok(!shortened.includes('big='));
  assert.ok(shortened.startsWith(`${filler[0]},${filler[1]},`));
  assert.ok(!shortened.includes('vendor19='));
});

test('ids are lowercase hex of the right length and do not repeat, across refills of the random pool', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const traceId = newTraceId();
    const spanId = newSpanId();
    assert.match(traceId, /^[0-9a-f]{32}$/);
    assert.match(spanId, /^[0-9a-f]{16}$/);
    seen.add(traceId).add(spanId);
  }
  assert.equal(seen.size, 10_000);
});

test('beginTrace continues a valid traceparent with a new span id for the gateway, keeping tracestate', () => {
  const f = fields();
  beginTrace(f, { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1' }, 0);
  assert.equal(f.traceId, TRACE);
  assert.equal(f.parentSpanId, PARENT);
  assert.equal(f.traceFlags, 1);
  assert.equal(f.traceState, 'rojo=1');
  assert.match(f.spanId, /^[0-9a-f]{16}$/);
  assert.notEqual(f.spanId, PARENT);
  // A caller's unsampled flag is kept even when every new trace would be sampled (parent-based).
  const g = fields();
  beginTrace(g, { traceparent: `00-${TRACE}-${PARENT}-00` }, ratioBound(1));
  assert.equal(g.traceFlags, 0);
});

test('beginTrace starts a new trace for a missing or invalid traceparent, dropping its tracestate', () => {
  for (const headers of [{}, { traceparent: 'nope', tracestate: 'rojo=1' }, { traceparent: `00-${TRACE.toUpperCase()}-${PARENT}-01` }]) {
    const f = fields();
    beginTrace(f, headers, 0);
    assert.match(f.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(f.traceId, TRACE);
    assert.equal(f.parentSpanId, undefined);
    assert.equal(f.traceState, undefined);
    assert.equal(f.traceFlags, 0, 'tracing off (bound 0): a new trace is not sampled');
  }
  const all = fields();
  beginTrace(all, {}, ratioBound(1));
  assert.equal(all.traceFlags, 1);
});

test('the ratio rule decides as OpenTelemetry TraceIdRatioBasedSampler does', () => {
  for (const ratio of [0, 0.01, 0.1, 0.5, 0.999, 1]) {
    const sampler = new TraceIdRatioBasedSampler(ratio);
    const bound = ratioBound(ratio);
    let sampled = 0;
    for (let i = 0; i < 2000; i++) {
      const traceId = randomBytes(16).toString('hex');
      const theirs = sampler.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
      const ours = bound > 0 && traceIdBelow(traceId, bound);
      assert.equal(ours, theirs, `ratio ${ratio}, trace id ${traceId}`);
      if (ours) sampled++;
    }
    if (ratio === 0) assert.equal(sampled, 0);
    if (ratio === 1) assert.equal(sampled, 2000);
    if (ratio === 0.5) assert.ok(sampled > 850 && sampled < 1150, `${sampled} of 2000 at 0.5`);
  }
});
