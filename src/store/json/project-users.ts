import { join } from 'node:path';
import { addBreakdownInto, zeroBreakdown, type Breakdown } from '../../domain/figures';
import { HOUR_MS, hourLabel, periodStart, utcDate } from '../../domain/time';
import { listNames, readTextIfExists, writeFileAtomic } from '../../fs/files';
import type { ProjectUserHour } from '../../domain/usage';
import type { ProjectUserFigures } from '../project-users';

/** `HH:00` → project → user → figures. */
type DayFile = Record<string, Record<string, Record<string, Breakdown>>>;

/** One file a day, `<dataDir>/project-users/<YYYY-MM-DD>.json`, rewritten atomically. */
export function jsonProjectUsers(dataDir: string): ProjectUserFigures {
  const pathOf = (day: string) => join(dataDir, 'project-users', `${day}.json`);
  const load = async (day: string): Promise<DayFile> => {
    const text = await readTextIfExists(pathOf(day));
    return text === null ? {} : (JSON.parse(text) as DayFile);
  };
  return {
    async replaceHours(hours, rows) {
      const dates = new Map<number, string>();
      const dateOf = (hour: number): string => {
        let date = dates.get(hour);
        if (date === undefined) dates.set(hour, (date = utcDate(hour)));
        return date;
      };
      const days = new Map<string, Set<number>>();
      for (const hour of hours) {
        const day = days.get(dateOf(hour));
        if (day === undefined) days.set(dateOf(hour), new Set([hour]));
        else day.add(hour);
      }
      // Each day's rows in the order given, found without going through every row for every day.
      const rowsByDay = new Map<string, ProjectUserHour[]>();
      for (const row of rows) {
        const replaced = days.get(dateOf(row.hour));
        if (replaced === undefined || !replaced.has(row.hour)) continue;
        const dayRows = rowsByDay.get(dateOf(row.hour));
        if (dayRows === undefined) rowsByDay.set(dateOf(row.hour), [row]);
        else dayRows.push(row);
      }
      for (const [day, dayHours] of days) {
        const file = await load(day);
        for (const hour of dayHours) delete file[hourLabel(hour)];
        for (const row of rowsByDay.get(day) ?? []) {
          const byProject = (file[hourLabel(row.hour)] ??= {});
          addBreakdownInto(((byProject[row.project] ??= {})[row.user] ??= zeroBreakdown()), row.figures);
        }
        await writeFileAtomic(pathOf(day), `${JSON.stringify(file)}\n`);
      }
    },
    async days() {
      const names = await listNames(join(dataDir, 'project-users'), 'file');
      return names
        .map((name) => /^(\d{4}-\d{2}-\d{2})\.json$/.exec(name)?.[1])
        .filter((day): day is string => day !== undefined)
        .sort();
    },
    async readDayRows(day) {
      const start = periodStart(day);
      return Object.entries(await load(day)).flatMap(([label, byProject]) =>
        Object.entries(byProject).flatMap(([project, byUser]) =>
          Object.entries(byUser).map(([user, figures]) => ({
            hour: start + Number(label.slice(0, 2)) * HOUR_MS,
            project,
            user,
            figures,
          })),
        ),
      );
    },
    async readDay(day, project) {
      const totals = new Map<string, Breakdown>();
      for (const byProject of Object.values(await load(day))) {
        for (const [user, figures] of Object.entries(byProject[project] ?? {})) {
          const total = totals.get(user) ?? zeroBreakdown();
          totals.set(user, addBreakdownInto(total, figures));
        }
      }
      return totals;
    },
  };
}
