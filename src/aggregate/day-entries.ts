import { addInto, type Breakdown, type Figures, zeroBreakdown, zeroFigures } from '../domain/figures';
import { LEVELS, type Level } from '../domain/levels';
import { machineKey } from '../domain/machine-key';
import { hourLabel, utcDate } from '../domain/time';
import type { AttributedInstanceHour, CostedInstanceHour, DayEntry } from '../domain/usage';

/** The key an instance-hour is counted under at a level. */
export function keyAt(level: Level, hour: AttributedInstanceHour): string {
  switch (level) {
    case 'PROJECT':
      return hour.project;
    case 'EXPERIMENT':
      return hour.experiment;
    case 'MACHINE':
      return hour.machineName;
    case 'USER':
      return hour.user;
    case 'INSTANCE':
      return hour.instance;
  }
}

function figuresOf(hour: CostedInstanceHour): Figures {
  return {
    busyCpuSeconds: hour.busyCpuSeconds,
    idleCpuSeconds: hour.idleCpuSeconds,
    busyKwh: hour.busyKwh,
    idleKwh: hour.idleKwh,
    busyGco2eq: hour.busyGco2eq,
    idleGco2eq: hour.idleGco2eq,
  };
}

function addToBreakdown(bucket: Breakdown, hour: CostedInstanceHour, figures: Figures): void {
  addInto(bucket.all, figures);
  addInto((bucket.byMachine[machineKey(hour.machineName)] ??= zeroFigures()), figures);
}

/**
 * Day entries of one level: instance-hours grouped by key and UTC day, each hour bucket holding
 * its sum and per-machine breakdown, `totals` their sum. Sorted by key, then date.
 */
export function toDayEntries(level: Level, hours: readonly CostedInstanceHour[]): DayEntry[] {
  // Built from usage only, so no hour of a fresh entry is failed.
  const byKeyAndDate = new Map<string, DayEntry & { hours: Record<string, Breakdown> }>();
  for (const hour of hours) {
    const key = keyAt(level, hour);
    const date = utcDate(hour.hour);
    const id = `${key}\u0000${date}`;
    let entry = byKeyAndDate.get(id);
    if (!entry) {
      entry = { level, key, date, hours: {}, totals: zeroBreakdown() };
      byKeyAndDate.set(id, entry);
    }
    const figures = figuresOf(hour);
    const label = hourLabel(hour.hour);
    addToBreakdown((entry.hours[label] ??= zeroBreakdown()), hour, figures);
    addToBreakdown(entry.totals, hour, figures);
  }
  return [...byKeyAndDate.values()].sort((a, b) =>
    a.key === b.key ? a.date.localeCompare(b.date) : a.key < b.key ? -1 : 1,
  );
}

/** Day entries at every level. */
export function toAllLevelEntries(hours: readonly CostedInstanceHour[]): DayEntry[] {
  return LEVELS.flatMap((level) => toDayEntries(level, hours));
}

/** The projects each instance ran under, sorted; the store keeps their union for access control. */
export function projectsByInstance(hours: readonly AttributedInstanceHour[]): Record<string, string[]> {
  const projects = new Map<string, Set<string>>();
  for (const { instance, project } of hours) {
    let set = projects.get(instance);
    if (!set) projects.set(instance, (set = new Set()));
    set.add(project);
  }
  return Object.fromEntries([...projects].map(([instance, set]) => [instance, [...set].sort()]));
}

/** Instance-hours with data per machine type (as labelled) in each hour: the denominator of MachineMetrics. */
export function instanceHoursByMachine(
  hours: readonly AttributedInstanceHour[],
): Map<number, Record<string, number>> {
  const counts = new Map<number, Record<string, number>>();
  for (const hour of hours) {
    let perMachine = counts.get(hour.hour);
    if (!perMachine) counts.set(hour.hour, (perMachine = {}));
    perMachine[hour.machineName] = (perMachine[hour.machineName] ?? 0) + 1;
  }
  return counts;
}
