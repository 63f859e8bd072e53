import type { Level } from '../../domain/levels';
import type { MonthRef } from './codec';

/** Files read or written at once: enough to keep the disk busy, few enough for the fd limit. */
export const CONCURRENCY = 32;

export interface YearRef {
  level: Level;
  key: string;
  year: string;
}

export const dayId = (level: Level, key: string, date: string): string => JSON.stringify([level, key, date]);
export const monthId = ({ level, key, month }: MonthRef): string => JSON.stringify([level, key, month]);

export const monthOf = ({ level, key }: { level: Level; key: string }, date: string): MonthRef => ({
  level,
  key,
  month: date.slice(0, 7),
});

export const yearOf = ({ level, key }: { level: Level; key: string }, period: string): YearRef => ({
  level,
  key,
  year: period.slice(0, 4),
});

/** Groups items by a composite identity, in order of first appearance. */
export function groupBy<T, K>(items: readonly T[], identity: (item: T) => K): Array<[K, T[]]> {
  const groups = new Map<string, [K, T[]]>();
  for (const item of items) {
    const id = identity(item);
    const name = JSON.stringify(id);
    const group = groups.get(name) ?? [id, []];
    groups.set(name, group);
    group[1].push(item);
  }
  return [...groups.values()];
}

/** The distinct identities of `items`, in order of first appearance. */
export function distinct<T>(items: readonly T[]): T[] {
  return groupBy(items, (item) => item).map(([item]) => item);
}
