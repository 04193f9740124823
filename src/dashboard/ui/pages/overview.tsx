import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import { useStream } from '../api';
import { Chart, type ChartSeries } from '../components/chart';
import { Card, PageTitle, Waiting } from '../components/common';
import type { OverviewSnapshot } from '../contract';
import { formatCount, formatDateTime, formatMs, formatRate, formatTime } from '../format';

const WINDOW_S = 15 * 60;
// "Now" is the mean of the newest seconds: one second alone jumps about.
const CURRENT_OVER_S = 10;

const RATE_SERIES: ChartSeries[] = [
  // A shaded area behind the outcomes: when everything is allowed, the two lines would coincide.
  { label: 'requests', colorVar: '--chart-requests', fillVar: '--chart-requests-fill' },
  { label: 'allowed', colorVar: '--chart-allowed' },
  { label: 'limited', colorVar: '--chart-limited' },
  { label: 'blocked', colorVar: '--chart-blocked' },
  { label: 'errors', colorVar: '--chart-errors' },
];
const LATENCY_SERIES: ChartSeries[] = [
  { label: 'p50', colorVar: '--chart-p50' },
  { label: 'p99', colorVar: '--chart-p99' },
];

const toneIf = (count: number, tone: string): string | undefined => (count > 0 ? tone : undefined);

export function OverviewPage() {
  const data = useStream<OverviewSnapshot>('overview');
  return (
    <>
      <PageTitle>Overview</PageTitle>
      {data === null ? <Waiting what="the gateway's numbers" /> : <Overview data={data} />}
    </>
  );
}

function Overview({ data }: { data: OverviewSnapshot }) {
  const { series, totals, config } = data;
  const rates = useMemo<uPlot.AlignedData>(
    () => [series.t, series.requests, series.allowed, series.limited, series.blocked, series.errors],
    [series],
  );
  const latency = useMemo<uPlot.AlignedData>(() => [series.t, series.p50_ms, series.p99_ms], [series]);
  const recent = series.requests.slice(-CURRENT_OVER_S);
  const current = recent.length === 0 ? 0 : recent.reduce((a, b) => a + b, 0) / recent.length;

  return (
    <>
      <section aria-labelledby="totals-title">
        <h2 id="totals-title">
          Since start <span class="hint">({formatDateTime(data.since)})</span>
        </h2>
        <dl class="cards">
          <Card label="Requests" value={formatCount(totals.requests)} />
          <Card label="Allowed" value={formatCount(totals.allowed)} tone={toneIf(totals.allowed, 'tone-ok')} />
          <Card label="Limited (429)" value={formatCount(totals.limited)} tone={toneIf(totals.limited, 'tone-warn')} />
          <Card label="Blocked (403)" value={formatCount(totals.blocked)} tone={toneIf(totals.blocked, 'tone-warn')} />
          <Card label="Upstream errors (5xx)" value={formatCount(totals.errors)} tone={toneIf(totals.errors, 'tone-bad')} />
          <Card label="Requests/s now" value={formatRate(current)} note={`mean of the last ${CURRENT_OVER_S} s`} />
        </dl>
      </section>
      <section class="charts" aria-label="Last 15 minutes">
        <Chart
          title="Requests per second"
          caption="Each second of the last 15 minutes: all requests, and how they ended (allowed, limited 429, blocked 403, upstream errors 5xx)."
          series={RATE_SERIES}
          data={rates}
          format={formatRate}
          windowSeconds={WINDOW_S}
        />
        <Chart
          title="Latency"
          caption="Median (p50) and 99th percentile (p99) response time in milliseconds, each second of the last 15 minutes; gaps are seconds without requests."
          series={LATENCY_SERIES}
          data={latency}
          format={formatMs}
          windowSeconds={WINDOW_S}
        />
      </section>
      <section aria-labelledby="config-title">
        <h2 id="config-title">Configuration</h2>
        <dl class="facts">
          <dt>Config hash</dt>
          <dd>
            <code>{config.hash}</code>
          </dd>
          <dt>Routes</dt>
          <dd>{formatCount(config.routes)}</dd>
          <dt>Last reload</dt>
          <dd>
            {config.last_reload === null ? (
              'none since start'
            ) : (
              <>
                <span class={config.last_reload.result === 'ok' ? 'tone-ok' : 'tone-bad'}>{config.last_reload.result === 'ok' ? 'ok' : 'error'}</span>
                {' at '}
                {formatTime(config.last_reload.at)}
                {config.last_reload.message ? `: ${config.last_reload.message}` : ''}
              </>
            )}
          </dd>
        </dl>
      </section>
    </>
  );
}
