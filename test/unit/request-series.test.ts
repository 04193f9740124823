import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { RequestSeries } from '../../src/observability/request-series.js';

test('request series render as a Prometheus counter and a cumulative histogram (le inclusive)', async () => {
  const series = new RequestSeries([0.1, 1]);
  const registry = new Registry();
  series.register(registry, { requests: { name: 'req_total', help: 'r' }, duration: { name: 'dur_seconds', help: 'd' } });
  series.declareRoute('/quiet');
  series.record('/api', 'GET', 200, 0.1);
  series.record('/api', 'GET', 200, 0.5);
  series.record('/api', 'POST', 429, 3);
  const text = await registry.metrics();
  for (const line of [
    'req_total{route="/api",method="GET",status="200"} 2',
    'req_total{route="/api",method="POST",status="429"} 1',
    'dur_seconds_bucket{le="0.1",route="/api"} 1',
    'dur_seconds_bucket{le="1",route="/api"} 2',
    'dur_seconds_bucket{le="+Inf",route="/api"} 3',
    'dur_seconds_sum{route="/api"} 3.6',
    'dur_seconds_count{route="/api"} 3',
    'dur_seconds_count{route="/quiet"} 0',
    '# TYPE dur_seconds histogram',
    '# TYPE req_total counter',
  ]) assert.ok(text.includes(line), `missing ${line}\n${text}`);
});
