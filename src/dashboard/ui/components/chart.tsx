import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { formatTime } from '../format';

export interface ChartSeries {
  label: string;
  /** The CSS custom property holding its colour (style.css sets one per scheme). */
  colorVar: string;
  /** A fill under the line, from this custom property. */
  fillVar?: string;
}

interface ChartProps {
  title: string;
  /** One line saying what the chart shows, read by everyone (the canvas itself says nothing to a screen reader). */
  caption: string;
  series: ChartSeries[];
  /** [unix seconds, ...one array per series]; null is a gap. */
  data: uPlot.AlignedData;
  format: (value: number) => string;
  windowSeconds: number;
}

const DARK = '(prefers-color-scheme: dark)';

/** A uPlot line chart that follows its container's width and the colour scheme. */
export function Chart({ title, caption, series, data, format, windowSeconds }: ChartProps) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latestData = useRef(data);
  latestData.current = data;
  const dark = useMatchMedia(DARK);

  // Colours are read once per scheme: a scheme change builds a new chart.
  useEffect(() => {
    const element = holder.current;
    if (element === null) return;
    let width = element.clientWidth;
    const chart = new uPlot(chartOptions(series, width, format, windowSeconds), latestData.current, element);
    plot.current = chart;
    showLatestWhenIdle(chart);
    const resize = new ResizeObserver(() => {
      if (element.clientWidth === width) return;
      width = element.clientWidth;
      chart.setSize({ width, height: heightFor(width) });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // series, format and window are fixed per chart; only the scheme rebuilds it.
  }, [dark]);

  useEffect(() => {
    const chart = plot.current;
    if (chart === null) return;
    chart.setData(data);
    showLatestWhenIdle(chart);
  }, [data]);

  return (
    <figure class="chart">
      <figcaption>
        <strong>{title}</strong> <span class="hint">{caption}</span>
      </figcaption>
      <div class="chart-plot" ref={holder} />
    </figure>
  );
}

/** Without a cursor on the chart, the legend shows the newest second's values rather than dashes. */
function showLatestWhenIdle(chart: uPlot): void {
  if (chart.cursor.idx !== null && chart.cursor.idx !== undefined) return;
  const last = chart.data[0].length - 1;
  if (last >= 0) chart.setLegend({ idx: last }, false);
}

const hhmm = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });

const heightFor = (width: number): number => (width < 500 ? 180 : 240);

function cssColor(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || 'currentColor';
}

function chartOptions(series: ChartSeries[], width: number, format: (value: number) => string, windowSeconds: number): uPlot.Options {
  const axisColor = cssColor('--muted');
  const gridColor = cssColor('--chart-grid');
  const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor, width: 1 } };
  return {
    width,
    height: heightFor(width),
    series: [
      { value: (_u, seconds) => (seconds === null ? '—' : formatTime(seconds * 1000)) },
      ...series.map((s) => ({
        label: s.label,
        stroke: cssColor(s.colorVar),
        ...(s.fillVar === undefined ? {} : { fill: cssColor(s.fillVar) }),
        width: 2,
        points: { show: false },
        value: (_u: uPlot, v: number | null) => (v === null ? '—' : format(v)),
      })),
    ],
    axes: [
      { ...axis, values: (_u, splits) => splits.map((seconds) => hhmm.format(seconds * 1000)) },
      { ...axis, size: 64, values: (_u, splits) => splits.map(format) },
    ],
    scales: {
      // Always the whole window, ending at the newest point: a gateway that just started draws on the right.
      x: { time: true, range: (_u, _min, max) => lastWindow(max, windowSeconds) },
      y: { range: (_u, _min, max) => [0, max === null || max <= 0 ? 1 : max * 1.1] },
    },
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    hooks: { setCursor: [showLatestWhenIdle] },
  };
}

function lastWindow(max: number | null, windowSeconds: number): uPlot.Range.MinMax {
  const end = max ?? Math.floor(Date.now() / 1000);
  return [end - windowSeconds, end];
}

function useMatchMedia(query: string): boolean {
  const [matches, setMatches] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const list = matchMedia(query);
    const onChange = () => setMatches(list.matches);
    list.addEventListener('change', onChange);
    return () => list.removeEventListener('change', onChange);
  }, [query]);
  return matches;
}
