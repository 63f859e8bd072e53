import type { LedgerHour } from '../../domain/usage';
import { mapLimit } from '../../fs/files';
import { toFileText } from './codec';
import { FileReader } from './file-parse';
import type { JsonLayout } from './layout';
import { readStoreTextIfPresent } from './read';
import { CONCURRENCY } from './refs';

const byName = (perMachine: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(perMachine).sort(([a], [b]) => (a < b ? -1 : 1)));

function ledgerHourJson(record: LedgerHour): LedgerHour {
  if (record.status === 'failed') {
    const { attempts, error, lastAttemptAt, keepsFigures } = record;
    return { status: 'failed', attempts, error, lastAttemptAt, ...(keepsFigures && { keepsFigures }) };
  }
  const { intensity, instanceHours, sampledHours, failedAttempts, lastError } = record;
  return {
    status: 'ok',
    intensity: { gPerKwh: intensity.gPerKwh, estimated: intensity.estimated, source: intensity.source },
    instanceHours: byName(instanceHours),
    ...(sampledHours !== undefined && { sampledHours: byName(sampledHours) }),
    ...(failedAttempts !== undefined && { failedAttempts }),
    ...(lastError !== undefined && { lastError }),
  };
}

/** A month of the ledger, keyed by the hour's ISO start, in time order. */
export function ledgerFileText(hours: ReadonlyMap<number, LedgerHour>): string {
  const sorted = [...hours].sort(([a], [b]) => a - b);
  return toFileText(
    Object.fromEntries(
      sorted.map(([hour, record]) => [new Date(hour).toISOString(), ledgerHourJson(record)]),
    ),
  );
}

export function parseLedgerFile(text: string, path: string): Map<number, LedgerHour> {
  const reader = new FileReader(path);
  const hours = new Map<number, LedgerHour>();
  for (const [iso, value] of Object.entries(reader.object(reader.parse(text), 'file'))) {
    const hour = Date.parse(iso);
    if (Number.isNaN(hour)) reader.fail(`${JSON.stringify(iso)} is not an ISO hour`);
    const record = reader.object(value, iso);
    if (record.status === 'ok') {
      reader.object(record.intensity, `${iso}.intensity`);
      reader.object(record.instanceHours, `${iso}.instanceHours`);
      if (record.sampledHours !== undefined) reader.object(record.sampledHours, `${iso}.sampledHours`);
    } else if (record.status === 'failed') {
      reader.number(record.attempts, `${iso}.attempts`);
    } else {
      reader.fail(`${iso}.status is neither "ok" nor "failed"`);
    }
    hours.set(hour, record as LedgerHour);
  }
  return hours;
}

/** Ledger months as the writer reads them: each with its text, to tell whether it changes. */
export async function readLedgerMonths(
  layout: JsonLayout,
  months: readonly string[],
): Promise<Map<string, { hours: Map<number, LedgerHour>; text: string | null }>> {
  const unique = [...new Set(months)];
  const read = await mapLimit(unique, CONCURRENCY, async (month) => {
    const path = layout.ledgerFile(month);
    const text = await readStoreTextIfPresent(path);
    return { hours: text === null ? new Map<number, LedgerHour>() : parseLedgerFile(text, path), text };
  });
  return new Map(unique.map((month, i) => [month, read[i]]));
}
