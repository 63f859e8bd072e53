import type { BucketStatus, Columns, ResourcesData } from './queries';

/** The parts stacked in the charts, bottom first. Resources are there once the API has them. */
export const PARTS = ['busy', 'idle', 'memory', 'storage', 'network'] as const;
export type Part = (typeof PARTS)[number];

export const PART_LABELS: Record<Part, string> = {
  busy: 'CPU busy',
  idle: 'CPU idle',
  memory: 'Memory',
  storage: 'Storage',
  network: 'Network',
};

/** One figure per bucket; null where the bucket has no ok hour (never drawn as zero). */
export type Column = Array<number | null>;

/** The series the page shows, as parallel lists: what the charts draw and the CSV holds. */
export interface ShownSeries {
  granularity: string;
  /** Bucket starts, ms since the epoch. */
  starts: number[];
  startIsos: string[];
  status: BucketStatus[];
  failedHours: number[];
  energy: Partial<Record<Part, Column>>;
  carbon: Partial<Record<Part, Column>>;
}

export function shownSeries(
  granularity: string,
  columns: Columns,
  resources: ResourcesData['usageSeries'] | undefined,
): ShownSeries {
  const shown: ShownSeries = {
    granularity,
    starts: columns.start.map((iso) => Date.parse(iso)),
    startIsos: columns.start,
    status: columns.status,
    failedHours: columns.failedHours,
    energy: { busy: columns.busyKwh, idle: columns.idleKwh },
    carbon: { busy: columns.busyGco2eq, idle: columns.idleGco2eq },
  };
  // Only when the resources answer is for these very buckets.
  if (resources && resources.buckets.length === columns.start.length) {
    const pick = (field: keyof NonNullable<ResourcesData['usageSeries']['buckets'][number]['resources']>) =>
      resources.buckets.map((bucket) => bucket.resources?.[field] ?? null);
    shown.energy.memory = pick('memoryKwh');
    shown.energy.storage = pick('storageKwh');
    shown.energy.network = pick('networkKwh');
    shown.carbon.memory = pick('memoryGco2eq');
    shown.carbon.storage = pick('storageGco2eq');
    shown.carbon.network = pick('networkGco2eq');
  }
  return shown;
}

/** The parts a series has, in stacking order. */
export function partsOf(figures: Partial<Record<Part, Column>>): Part[] {
  return PARTS.filter((part) => figures[part] !== undefined);
}

/** The sum of the shown parts in each bucket; null where the bucket has none. */
export function stackTotal(figures: Partial<Record<Part, Column>>): Column {
  const parts = partsOf(figures);
  const length = figures.busy?.length ?? 0;
  const total: Column = new Array(length);
  for (let i = 0; i < length; i++) {
    let sum: number | null = null;
    for (const part of parts) {
      const value = figures[part]![i];
      if (value !== null && value !== undefined) sum = (sum ?? 0) + value;
    }
    total[i] = sum;
  }
  return total;
}

/** A CSV of exactly what is shown: one row a bucket, empty cells where a bucket has no figures. */
export function toCsv(shown: ShownSeries): string {
  const energyParts = partsOf(shown.energy);
  const carbonParts = partsOf(shown.carbon);
  const header = [
    'start',
    'status',
    'failed_hours',
    ...energyParts.map((part) => `${part}_kwh`),
    ...carbonParts.map((part) => `${part}_gco2eq`),
  ];
  const cell = (value: number | null | undefined) =>
    value === null || value === undefined ? '' : String(value);
  const rows = shown.startIsos.map((start, i) =>
    [
      start,
      shown.status[i],
      String(shown.failedHours[i]),
      ...energyParts.map((part) => cell(shown.energy[part]![i])),
      ...carbonParts.map((part) => cell(shown.carbon[part]![i])),
    ].join(','),
  );
  return [header.join(','), ...rows].join('\r\n') + '\r\n';
}
