import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { type DailySummaryRecord, pickFigures } from '../../domain/summaries';
import { listNames, mapLimit, readTextIfExists, writeFileAtomic } from '../../fs/files';
import type { DailySummaryStore, SummarySubscribers } from '../summaries';
import { checkedDate, DAY_FILE, encodeKey } from './layout';

/** Files read or written at once. */
const CONCURRENCY = 8;

const RecordSchema = z.object({
  user: z.string(),
  date: z.string(),
  figures: z.record(z.string(), z.number()),
  byMachine: z.array(z.object({ machineName: z.string(), upHours: z.number() })),
  okHours: z.number(),
  failedHours: z.number(),
  complete: z.boolean(),
});
const DaySchema = z.object({ complete: z.boolean(), users: z.array(z.string()) });

/**
 * Daily summaries as files: `<dataDir>/summaries/users/<user>/<YYYY>/<YYYY-MM-DD>.json`, one a
 * user and day (so a year of one user is one directory a year), and
 * `<dataDir>/summaries/days/<YYYY-MM-DD>.json` saying whether the day was complete and whose
 * summaries it holds. Each file is written atomically; the day's file last, so a summary run cut
 * short leaves the day as it was or marked as written.
 */
export function jsonDailySummaries(dataDir: string): DailySummaryStore {
  const root = join(dataDir, 'summaries');
  const userDir = (user: string) => join(root, 'users', encodeKey(user));
  const userFile = (user: string, date: string) =>
    join(userDir(user), date.slice(0, 4), `${checkedDate(date)}.json`);
  const dayFile = (date: string) => join(root, 'days', `${checkedDate(date)}.json`);
  const readDay = async (date: string) => {
    const text = await readTextIfExists(dayFile(date));
    return text === null ? null : parsed(DaySchema, text, dayFile(date));
  };
  return {
    async replaceDay(date, complete, records) {
      const users = records.map((record) => record.user).sort();
      const before = await readDay(date);
      await mapLimit(records, CONCURRENCY, (record) =>
        writeIfChanged(userFile(record.user, date), `${JSON.stringify(record)}\n`),
      );
      const gone = (before?.users ?? []).filter((user) => !users.includes(user));
      await Promise.all(gone.map((user) => rm(userFile(user, date), { force: true })));
      await writeIfChanged(dayFile(date), `${JSON.stringify({ complete, users })}\n`);
    },
    read: (user, fromDate, toDate) => readUserDays(userDir(user), fromDate, toDate),
    async isSummarised(date) {
      return (await readDay(date)) !== null;
    },
    async days() {
      const names = await listNames(join(root, 'days'), 'file');
      return names.flatMap((name) => DAY_FILE.exec(name)?.[1] ?? []).sort();
    },
    async readDay(date) {
      const day = await readDay(date);
      if (day === null) return null;
      const records = await mapLimit(day.users, CONCURRENCY, async (user) => {
        const file = userFile(user, date);
        const text = await readTextIfExists(file);
        if (text === null) throw new Error(`${file} is missing: ${dayFile(date)} names it`);
        return recordOf(text, file);
      });
      return { complete: day.complete, records };
    },
  };
}

/** The summaries in a user's directory of the dates in [fromDate, toDate), in date order. */
async function readUserDays(dir: string, fromDate: string, toDate: string): Promise<DailySummaryRecord[]> {
  const years: string[] = [];
  for (let year = Number(fromDate.slice(0, 4)); year <= Number(toDate.slice(0, 4)); year++) {
    years.push(String(year).padStart(4, '0'));
  }
  const listed = await Promise.all(
    years.map(async (year) =>
      (await listNames(join(dir, year), 'file')).map((name) => join(dir, year, name)),
    ),
  );
  const files = listed
    .flat()
    .filter((file) => {
      const date = DAY_FILE.exec(basename(file))?.[1];
      return date !== undefined && date >= fromDate && date < toDate;
    })
    .sort();
  return mapLimit(files, CONCURRENCY, async (file) => {
    const text = await readTextIfExists(file);
    if (text === null) throw new Error(`${file} went while it was read`);
    return recordOf(text, file);
  });
}

function recordOf(text: string, file: string): DailySummaryRecord {
  const record = parsed(RecordSchema, text, file);
  return { ...record, figures: pickFigures(record.figures) };
}

/** Self-listed users in one small file, `<dataDir>/summaries/subscribers.json`, serialised in-process. */
export function jsonSummarySubscribers(dataDir: string): SummarySubscribers {
  const file = join(dataDir, 'summaries', 'subscribers.json');
  const Schema = z.object({ users: z.record(z.string(), z.string().nullable()) });
  let writing: Promise<unknown> = Promise.resolve();
  const load = async () => {
    const text = await readTextIfExists(file);
    return text === null ? {} : parsed(Schema, text, file).users;
  };
  return {
    set(user, address) {
      const work = writing.then(async () => {
        const users = await load();
        users[user] = address;
        await writeFileAtomic(file, `${JSON.stringify({ users }, null, 1)}\n`);
      });
      writing = work.catch(() => undefined);
      return work;
    },
    async list() {
      return new Map(Object.entries(await load()));
    },
  };
}

async function writeIfChanged(file: string, text: string): Promise<void> {
  if ((await readTextIfExists(file)) !== text) await writeFileAtomic(file, text);
}

function parsed<T>(schema: z.ZodType<T>, text: string, file: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw new Error(`${file} is damaged: ${result.error.message}`);
  return result.data;
}
