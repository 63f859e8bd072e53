import { addInto, type Breakdown, sameFigures, zeroBreakdown, zeroFigures } from '../domain/figures';
import { LEVELS, type Level } from '../domain/levels';
import { machineKey } from '../domain/machine-key';
import { ownValue } from '../domain/own';
import { hourLabel, utcDate } from '../domain/time';
import type { AttributedInstanceHour, CostedInstanceHour, DayEntry, ProjectUserHour } from '../domain/usage';

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

/**
 * What every level works out again for each instance-hour, worked out once per batch: a year of
 * a large fleet is millions of instance-hours, times five levels.
 */
interface Memo {
  machineKeys: Map<string, string>;
  hours: Map<number, { date: string; label: string }>;
}

const newMemo = (): Memo => ({ machineKeys: new Map(), hours: new Map() });

/**
 * A bucket of one machine type (every instance's, every machine type's) holds its figures twice:
 * the machine's part becomes the very object of the whole, so a step of a large fleet keeps half
 * as many at that level while the store writes it. Nothing downstream changes figures in place.
 */
function shareSoleMachine(bucket: Breakdown): void {
  const machines = Object.keys(bucket.byMachine);
  if (machines.length !== 1) return;
  const [machine] = machines;
  if (sameFigures(bucket.byMachine[machine], bucket.all)) bucket.byMachine[machine] = bucket.all;
}

function dayEntriesOf(level: Level, hours: readonly CostedInstanceHour[], memo: Memo): DayEntry[] {
  // Built from usage only, so no hour of a fresh entry is failed.
  const byKey = new Map<string, Map<string, DayEntry & { hours: Record<string, Breakdown> }>>();
  for (const hour of hours) {
    const key = keyAt(level, hour);
    let when = memo.hours.get(hour.hour);
    if (when === undefined) {
      when = { date: utcDate(hour.hour), label: hourLabel(hour.hour) };
      memo.hours.set(hour.hour, when);
    }
    let machine = memo.machineKeys.get(hour.machineName);
    if (machine === undefined) {
      machine = machineKey(hour.machineName);
      memo.machineKeys.set(hour.machineName, machine);
    }
    let byDate = byKey.get(key);
    if (byDate === undefined) byKey.set(key, (byDate = new Map()));
    let entry = byDate.get(when.date);
    if (entry === undefined) {
      entry = { level, key, date: when.date, hours: {}, totals: zeroBreakdown() };
      byDate.set(when.date, entry);
    }
    const bucket = (entry.hours[when.label] ??= zeroBreakdown());
    addInto(bucket.all, hour);
    addInto((bucket.byMachine[machine] ??= zeroFigures()), hour);
    addInto(entry.totals.all, hour);
    addInto((entry.totals.byMachine[machine] ??= zeroFigures()), hour);
  }
  for (const byDate of byKey.values()) {
    for (const entry of byDate.values()) {
      for (const bucket of Object.values(entry.hours)) shareSoleMachine(bucket);
      shareSoleMachine(entry.totals);
    }
  }
  const keys = [...byKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return keys.flatMap((key) =>
    [...byKey.get(key)!.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0)),
  );
}

/**
 * Day entries of one level: instance-hours grouped by key and UTC day, each hour bucket holding
 * its sum and per-machine breakdown, `totals` their sum. Sorted by key, then date.
 */
export function toDayEntries(level: Level, hours: readonly CostedInstanceHour[]): DayEntry[] {
  return dayEntriesOf(level, hours, newMemo());
}

/** Day entries at every level. */
export function toAllLevelEntries(hours: readonly CostedInstanceHour[]): DayEntry[] {
  const memo = newMemo();
  return LEVELS.flatMap((level) => dayEntriesOf(level, hours, memo));
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
  return sumByMachine(hours, () => 1);
}

/**
 * Hours samples held per machine type in each hour, counting only the rows whose source says
 * (see `Sampled`); an hour with none of them is absent.
 */
export function sampledHoursByMachine(
  hours: readonly AttributedInstanceHour[],
): Map<number, Record<string, number>> {
  return sumByMachine(hours, (hour) => hour.sampledHours);
}

function sumByMachine(
  hours: readonly AttributedInstanceHour[],
  valueOf: (hour: AttributedInstanceHour) => number | undefined,
): Map<number, Record<string, number>> {
  const sums = new Map<number, Record<string, number>>();
  for (const hour of hours) {
    const value = valueOf(hour);
    if (value === undefined) continue;
    let perMachine = sums.get(hour.hour);
    if (!perMachine) sums.set(hour.hour, (perMachine = {}));
    // A machine type may be any name from data (`__proto__`, `constructor`): own keys only.
    Object.defineProperty(perMachine, hour.machineName, {
      value: (ownValue(perMachine, hour.machineName) ?? 0) + value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return sums;
}

/** Each hour's usage by project and user, split by machine key: what per-user reports need. */
export function projectUserHours(hours: readonly CostedInstanceHour[]): ProjectUserHour[] {
  const rows: ProjectUserHour[] = [];
  const byHour = new Map<number, Map<string, Map<string, ProjectUserHour>>>();
  const machineKeys = new Map<string, string>();
  for (const hour of hours) {
    let byProject = byHour.get(hour.hour);
    if (byProject === undefined) byHour.set(hour.hour, (byProject = new Map()));
    let byUser = byProject.get(hour.project);
    if (byUser === undefined) byProject.set(hour.project, (byUser = new Map()));
    let row = byUser.get(hour.user);
    if (row === undefined) {
      row = { hour: hour.hour, project: hour.project, user: hour.user, figures: zeroBreakdown() };
      byUser.set(hour.user, row);
      rows.push(row);
    }
    let machine = machineKeys.get(hour.machineName);
    if (machine === undefined) machineKeys.set(hour.machineName, (machine = machineKey(hour.machineName)));
    addInto(row.figures.all, hour);
    addInto((row.figures.byMachine[machine] ??= zeroFigures()), hour);
  }
  return rows;
}
