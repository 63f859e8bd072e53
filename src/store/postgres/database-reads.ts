import type { Level } from '../../domain/levels';
import type { DayEntry, LedgerHour, MonthRollup, YearRollup } from '../../domain/usage';
import type { ReadParts } from '../store';
import type { ReadDb } from './read-routing';
import { CoalescedReads, iso } from './reads';

/**
 * The Store's reads over one database: the primary's pool for the store itself and its jobs, or
 * the router that sends the API's reads to a current standby (PostgresStore.answers).
 */
export abstract class DatabaseReads {
  private readonly reads: CoalescedReads;

  protected constructor(protected readonly readDb: ReadDb) {
    this.reads = new CoalescedReads(readDb);
  }

  readLedger(fromHour: number, toHour: number): Promise<Map<number, LedgerHour>> {
    return readLedger(this.readDb, fromHour, toHour);
  }

  readLedgerStatuses(fromHour: number, toHour: number): Promise<Map<number, LedgerHour['status']>> {
    return readLedgerStatuses(this.readDb, fromHour, toHour);
  }

  readDays(
    level: Level,
    date: string,
    keys: readonly string[],
    parts?: ReadParts,
  ): Promise<Array<DayEntry | null>> {
    return this.reads.read<DayEntry>(parts?.byMachine === false ? 'dayAlls' : 'days', level, date, keys);
  }

  readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>> {
    return this.reads.read<MonthRollup>('months', level, month, keys);
  }

  readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>> {
    return this.reads.read<YearRollup>('years', level, year, keys);
  }

  readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>> {
    return readInstanceProjects(this.readDb);
  }

  listKeys(level: Level): Promise<string[]> {
    return listKeys(this.readDb, level);
  }

  /** Ready when the reads can be answered (through the router: by the standby, or else the primary). */
  async checkReadable(): Promise<void> {
    await this.readDb.query({ text: 'SELECT 1 FROM store_version' });
  }
}

export async function readLedger(
  db: ReadDb,
  fromHour: number,
  toHour: number,
): Promise<Map<number, LedgerHour>> {
  const { rows } = await db.query<{ hour: number; record: LedgerHour }>({
    text: `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour, record FROM ledger_hour
       WHERE hour >= $1 AND hour < $2 ORDER BY hour`,
    values: [iso(fromHour), iso(toHour)],
  });
  return new Map(rows.map(({ hour, record }) => [hour, record]));
}

export async function readLedgerStatuses(
  db: ReadDb,
  fromHour: number,
  toHour: number,
): Promise<Map<number, LedgerHour['status']>> {
  const { rows } = await db.query<{ hour: number; status: LedgerHour['status'] }>({
    text: `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour, status FROM ledger_hour
       WHERE hour >= $1 AND hour < $2 ORDER BY hour`,
    values: [iso(fromHour), iso(toHour)],
  });
  return new Map(rows.map(({ hour, status }) => [hour, status]));
}

export async function readInstanceProjects(db: ReadDb): Promise<Map<string, ReadonlySet<string>>> {
  const { rows } = await db.query<{ instance: string; project: string }>({
    text: 'SELECT instance, project FROM instance_project',
  });
  const projects = new Map<string, Set<string>>();
  for (const { instance, project } of rows) {
    projects.set(instance, (projects.get(instance) ?? new Set()).add(project));
  }
  return projects;
}

export async function listKeys(db: ReadDb, level: Level): Promise<string[]> {
  const { rows } = await db.query<{ key: string }>({
    text: `SELECT key FROM usage_key k
       WHERE level = $1 AND EXISTS (SELECT 1 FROM usage_day d WHERE d.key_id = k.id)`,
    values: [level],
  });
  // Sorted by UTF-16 code units, as the JSON store sorts, whatever the database's collation.
  return rows.map((row) => row.key).sort();
}
