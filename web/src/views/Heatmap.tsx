import { useEffect, useMemo, useRef, useState } from 'preact/hooks';

import { formatFigure, formatInstant } from '../format';
import type { Columns } from '../queries';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** A sequential blue ramp (ColorBrewer's Blues, 7 classes), light for little energy, dark for much. */
const RAMP = ['#eff3ff', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#084594'];
const FAILED = '#b91c1c';
const NO_DATA = '#e2e8f0';
const LEFT = 40;
const BOTTOM = 22;
const ROW = 11;

interface Grid {
  firstDay: number;
  days: number;
  /** [day * 24 + hour]: kWh, null without figures. */
  values: Array<number | null>;
  failed: boolean[];
  max: number;
}

function gridOf(columns: Pick<Columns, 'start' | 'status' | 'totalKwh'>): Grid {
  const starts = columns.start.map((iso) => Date.parse(iso));
  const firstDay = Math.floor((starts[0] ?? 0) / DAY_MS) * DAY_MS;
  const days = starts.length ? Math.floor(starts[starts.length - 1]! / DAY_MS) - firstDay / DAY_MS + 1 : 0;
  const values: Array<number | null> = new Array(days * 24).fill(null);
  const failed: boolean[] = new Array(days * 24).fill(false);
  let max = 0;
  starts.forEach((start, i) => {
    const cell = Math.round((start - firstDay) / HOUR_MS);
    const value = columns.totalKwh[i] ?? null;
    values[cell] = value;
    failed[cell] = columns.status[i] === 'FAILED';
    if (value !== null && value > max) max = value;
  });
  return { firstDay, days, values, failed, max };
}

function colorOf(grid: Grid, cell: number): string {
  if (grid.failed[cell]) return FAILED;
  const value = grid.values[cell];
  if (value === null || value === undefined) return NO_DATA;
  const step = grid.max > 0 ? Math.min(RAMP.length - 1, Math.floor((value / grid.max) * RAMP.length)) : 0;
  return RAMP[step]!;
}

function describe(grid: Grid, cell: number): string {
  const at = formatInstant(new Date(grid.firstDay + cell * HOUR_MS).toISOString());
  if (grid.failed[cell]) return `${at}: failed (not ingested)`;
  const value = grid.values[cell];
  return value === null || value === undefined ? `${at}: no data` : `${at}: ${formatFigure(value)} kWh`;
}

/**
 * Energy by hour of day (rows, UTC) and day (columns), on a canvas. Arrow keys move through the
 * hours and say each one; a failed hour is red, an hour without figures grey.
 */
export function Heatmap({ columns }: { columns: Pick<Columns, 'start' | 'status' | 'totalKwh'> }) {
  const grid = useMemo(() => gridOf(columns), [columns]);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [focus, setFocus] = useState<number | null>(null);
  const [width, setWidth] = useState(0);

  useEffect(() => {
    const element = canvas.current!.parentElement!;
    const resize = new ResizeObserver(() => setWidth(element.clientWidth));
    resize.observe(element);
    return () => resize.disconnect();
  }, []);

  useEffect(() => {
    if (width > 0) draw(canvas.current!, grid, width, focus);
  }, [grid, width, focus]);

  const cellAt = (event: MouseEvent): number | null => {
    const columnWidth = (width - LEFT) / Math.max(1, grid.days);
    const day = Math.floor((event.offsetX - LEFT) / columnWidth);
    const hour = Math.floor(event.offsetY / ROW);
    if (day < 0 || day >= grid.days || hour < 0 || hour > 23) return null;
    return day * 24 + hour;
  };
  const onKey = (event: KeyboardEvent) => {
    const moves: Record<string, number> = { ArrowUp: -1, ArrowDown: 1, ArrowLeft: -24, ArrowRight: 24 };
    const move = moves[event.key];
    if (move === undefined) return;
    event.preventDefault();
    const next = (focus ?? grid.values.length - 1) + move;
    if (next >= 0 && next < grid.values.length) setFocus(next);
  };

  return (
    <div class="heatmap">
      <canvas
        ref={canvas}
        tabIndex={0}
        role="img"
        aria-label={`Energy by hour of day over ${grid.days} days; peak ${formatFigure(grid.max)} kWh in one hour. Arrow keys read single hours.`}
        onMouseMove={(event) => setFocus(cellAt(event))}
        onMouseLeave={() => setFocus(null)}
        onKeyDown={onKey}
      />
      <p class="heatmap-readout" aria-live="polite">
        {focus === null
          ? 'Point at an hour, or focus the map and use the arrow keys.'
          : describe(grid, focus)}
      </p>
      <ul class="heatmap-key" aria-label="Colour key">
        <li>
          <span class="swatch swatch-ramp" /> 0 to {formatFigure(grid.max)} kWh
        </li>
        <li>
          <span class="swatch swatch-failed" /> failed
        </li>
        <li>
          <span class="swatch swatch-none" /> no data
        </li>
      </ul>
    </div>
  );
}

function draw(canvas: HTMLCanvasElement, grid: Grid, width: number, focus: number | null): void {
  const ratio = window.devicePixelRatio || 1;
  const height = ROW * 24 + BOTTOM;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.scale(ratio, ratio);
  const columnWidth = (width - LEFT) / Math.max(1, grid.days);
  for (let day = 0; day < grid.days; day++) {
    const x = LEFT + day * columnWidth;
    for (let hour = 0; hour < 24; hour++) {
      ctx.fillStyle = colorOf(grid, day * 24 + hour);
      // Overlap by a pixel fraction so no seams show between narrow columns.
      ctx.fillRect(x, hour * ROW, columnWidth + 0.5, ROW);
    }
  }
  drawAxes(ctx, grid, width, columnWidth);
  if (focus !== null) {
    ctx.strokeStyle = '#0f172a';
    ctx.lineWidth = 2;
    ctx.strokeRect(
      LEFT + Math.floor(focus / 24) * columnWidth,
      (focus % 24) * ROW,
      Math.max(columnWidth, 3),
      ROW,
    );
  }
}

function drawAxes(ctx: CanvasRenderingContext2D, grid: Grid, width: number, columnWidth: number): void {
  ctx.fillStyle = '#334155';
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  for (const hour of [0, 6, 12, 18])
    ctx.fillText(`${String(hour).padStart(2, '0')}:00`, 2, hour * ROW + ROW / 2);
  ctx.textBaseline = 'top';
  const labels = Math.max(1, Math.floor((width - LEFT) / 90));
  const every = Math.max(1, Math.ceil(grid.days / labels));
  for (let day = 0; day < grid.days; day += every) {
    const date = new Date(grid.firstDay + day * DAY_MS).toISOString().slice(0, 10);
    ctx.fillText(date, LEFT + day * columnWidth, 24 * ROW + 6);
  }
}
