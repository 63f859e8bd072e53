import 'uplot/dist/uPlot.min.css';

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

import { formatBucket, formatFigure } from '../format';
import { PART_LABELS, partsOf, type Column, type Part, type ShownSeries } from '../shown';

export const PART_COLORS: Record<Part, string> = {
  busy: '#1d4ed8',
  idle: '#93c5fd',
  memory: '#0f766e',
  storage: '#b45309',
  network: '#7c3aed',
};
const FAILED_COLOR = '#b91c1c';
const PARTIAL_COLOR = '#d97706';

interface Props {
  shown: ShownSeries;
  figures: Partial<Record<Part, Column>>;
  unit: string;
  title: string;
}

/**
 * One stacked chart of a series (uPlot on a canvas: a year of hours is 8,784 points per part).
 * A bucket without figures is a gap, never zero; a FAILED bucket gets a red band and a red mark
 * on the axis, a PARTIAL one an amber mark.
 */
export function TimeChart({ shown, figures, unit, title }: Props) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = container.current!;
    const started = performance.now();
    delete element.dataset.drawMs;
    const plot = new uPlot(
      chartOptions(shown, figures, unit, element, started),
      chartData(shown, figures),
      element,
    );
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: element.clientWidth, height: CHART_HEIGHT }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [shown, figures, unit]);
  return <div class="chart" ref={container} role="figure" aria-label={`${title}, ${unit}`} />;
}

const CHART_HEIGHT = 240;

/** Cumulative sums, top of the stack first: uPlot draws in order, each part over the one above it. */
function chartData(shown: ShownSeries, figures: Partial<Record<Part, Column>>): uPlot.AlignedData {
  const parts = partsOf(figures);
  const xs = shown.starts.map((ms) => ms / 1000);
  const stacked: Column[] = [];
  let below: Column | undefined;
  for (const part of parts) {
    const values = figures[part]!;
    const sums = values.map((value, i) => (value === null ? null : value + (below?.[i] ?? 0)));
    stacked.push(sums);
    below = sums;
  }
  return [xs, ...stacked.reverse()] as uPlot.AlignedData;
}

function chartOptions(
  shown: ShownSeries,
  figures: Partial<Record<Part, Column>>,
  unit: string,
  element: HTMLElement,
  started: number,
): uPlot.Options {
  const parts = partsOf(figures).reverse();
  const hourly = shown.granularity === 'HOUR';
  const paths = hourly
    ? uPlot.paths.stepped!({ align: 1 })
    : uPlot.paths.bars!({ size: [0.85, 40], align: 1 });
  return {
    width: element.clientWidth,
    height: CHART_HEIGHT,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    cursor: { drag: { x: false, y: false } },
    // Stacks of energy start at zero, so bars compare by height.
    scales: {
      x: { time: true, range: () => xRange(shown) },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] },
    },
    legend: { live: true },
    axes: [
      { stroke: '#334155', grid: { stroke: '#e2e8f0' }, values: (_u, splits) => timeTicks(splits) },
      {
        stroke: '#334155',
        grid: { stroke: '#e2e8f0' },
        size: 64,
        label: unit,
        values: (_u, splits) => splits.map((value) => formatFigure(value)),
      },
    ],
    series: [
      {
        label: 'Bucket',
        value: (_u, ts) => (ts === null ? '–' : formatBucket(isoOf(ts), shown.granularity)),
      },
      ...parts.map((part): uPlot.Series => ({
        label: PART_LABELS[part],
        stroke: PART_COLORS[part],
        fill: PART_COLORS[part],
        width: hourly ? 1 : 0,
        paths,
        points: { show: false },
        // The legend shows the part's own figure, not the stack's height.
        value: (_u, _v, _series, index) => legendValue(figures[part]!, index, shown),
      })),
    ],
    hooks: {
      draw: [
        (u) => {
          drawStatusMarks(u, shown);
          // Read by `npm run bench`: the first draw's own time, and when it ended after the page began loading.
          if (element.dataset.drawMs === undefined) {
            element.dataset.drawMs = (performance.now() - started).toFixed(1);
            element.dataset.drawnAt = performance.now().toFixed(1);
          }
          element.dataset.points = String(shown.starts.length);
        },
      ],
    },
  };
}

function legendValue(values: Column, index: number | null, shown: ShownSeries): string {
  if (index === null) return '–';
  if (shown.status[index] === 'FAILED') return 'failed';
  const value = values[index];
  return value === null ? 'no data' : formatFigure(value);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** UTC tick labels: times within two days, days within a year and a bit, months beyond. */
function timeTicks(splits: number[]): string[] {
  const span = (splits[splits.length - 1] ?? 0) - (splits[0] ?? 0);
  return splits.map((seconds) => {
    const date = new Date(seconds * 1000);
    const month = MONTHS[date.getUTCMonth()]!;
    if (span < 2 * 86_400) return `${String(date.getUTCHours()).padStart(2, '0')}:00`;
    if (span < 400 * 86_400) return `${month} ${date.getUTCDate()}`;
    return `${month} ${date.getUTCFullYear()}`;
  });
}

function isoOf(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** From the first bucket's start to the last one's end. */
function xRange(shown: ShownSeries): [number, number] {
  const { starts } = shown;
  if (starts.length === 0) return [0, 1];
  const last = starts[starts.length - 1]!;
  const width = starts.length > 1 ? last - starts[starts.length - 2]! : 3_600_000;
  return [starts[0]! / 1000, (last + width) / 1000];
}

function drawStatusMarks(u: uPlot, shown: ShownSeries): void {
  const { ctx } = u;
  const { top, height } = u.bbox;
  const markHeight = 6 * uPlot.pxRatio;
  ctx.save();
  for (let i = 0; i < shown.starts.length; i++) {
    const status = shown.status[i];
    if (status !== 'FAILED' && status !== 'PARTIAL') continue;
    const left = u.valToPos(shown.starts[i]! / 1000, 'x', true);
    const next = shown.starts[i + 1] ?? xRange(shown)[1] * 1000;
    const right = Math.max(left + uPlot.pxRatio * 2, u.valToPos(next / 1000, 'x', true));
    if (status === 'FAILED') {
      ctx.fillStyle = 'rgba(185, 28, 28, 0.12)';
      ctx.fillRect(left, top, right - left, height);
    }
    ctx.fillStyle = status === 'FAILED' ? FAILED_COLOR : PARTIAL_COLOR;
    ctx.fillRect(left, top + height - markHeight, right - left, markHeight);
  }
  ctx.restore();
}
