import { join } from 'node:path';
import { LEVELS, type Level } from '../../domain/levels';
import { isDate, periodStart, utcMonth } from '../../domain/time';
import { MAX_ENCODED_KEY_BYTES } from '../rules/keys';
import { InvalidKeyError } from './errors';

/**
 * The directory name of a key: `encodeURIComponent(key)`, which leaves no `/` and keeps `%41`
 * distinct from `A`. `.` and `..` survive that encoding, and would name the level directory or
 * its parent, so their dots are encoded too.
 */
export function encodeKey(key: string): string {
  if (key === '') throw new InvalidKeyError('A usage key must not be empty');
  let encoded: string;
  try {
    encoded = encodeURIComponent(key);
  } catch {
    throw new InvalidKeyError(`Usage key ${JSON.stringify(key)} is not well-formed Unicode`);
  }
  if (encoded === '.' || encoded === '..') encoded = encoded.replaceAll('.', '%2E');
  if (encoded.length > MAX_ENCODED_KEY_BYTES) {
    throw new InvalidKeyError(`Usage key ${JSON.stringify(key.slice(0, 40))}… is too long to store`);
  }
  return encoded;
}

export function isStorableKey(key: string): boolean {
  try {
    encodeKey(key);
    return true;
  } catch (err) {
    if (err instanceof InvalidKeyError) return false;
    throw err;
  }
}

/** The key a directory name stands for, or null when `encodeKey` would never have produced it. */
export function decodeKey(name: string): string | null {
  try {
    const key = decodeURIComponent(name);
    return encodeKey(key) === name ? key : null;
  } catch {
    return null;
  }
}

export const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.json$/;
export const MONTH_FILE = /^(\d{4}-\d{2})\.month\.json$/;

export function isMonth(value: string): boolean {
  return /^\d{4}-\d{2}$/.test(value) && utcMonth(periodStart(value)) === value;
}

export function isYear(value: string): boolean {
  return /^\d{4}$/.test(value);
}

function checked(value: string, valid: (value: string) => boolean, shape: string): string {
  // Periods become path segments, so anything else could point outside the store.
  if (!valid(value)) throw new Error(`Expected a ${shape}, got ${JSON.stringify(value)}`);
  return value;
}

export const checkedDate = (date: string): string => checked(date, isDate, 'UTC date YYYY-MM-DD');
export const checkedMonth = (month: string): string => checked(month, isMonth, 'UTC month YYYY-MM');
export const checkedYear = (year: string): string => checked(year, isYear, 'UTC year YYYY');

/**
 * Where everything lives under the data directory:
 * - `usage/<level>/<key>/<YYYY>/<YYYY-MM-DD>.json`   day entry (contract section 3)
 * - `usage/<level>/<key>/<YYYY>/<YYYY-MM>.month.json` month roll-up
 * - `usage/<level>/<key>/<YYYY>.year.json`            year roll-up
 * - `ledger/<YYYY>/<YYYY-MM>.json`                    ingested hours of a month
 * - `journal.json`                                    months of an unfinished batch
 * - `index/instance-projects.json`                   instance → the projects it ran under
 * - `version`                                         a token each commit rewrites
 * - `carbon/<YYYY-MM>.json`                           the carbon-intensity cache
 */
export class JsonLayout {
  readonly journalFile: string;
  readonly versionFile: string;

  constructor(readonly dataDir: string) {
    this.journalFile = join(dataDir, 'journal.json');
    this.versionFile = join(dataDir, 'version');
  }

  levelDir(level: Level): string {
    if (!LEVELS.includes(level)) throw new Error(`Unknown level ${JSON.stringify(level)}`);
    return join(this.dataDir, 'usage', level.toLowerCase());
  }

  keyDir(level: Level, key: string): string {
    return join(this.levelDir(level), encodeKey(key));
  }

  yearDir(level: Level, key: string, year: string): string {
    return join(this.keyDir(level, key), year);
  }

  dayFile(level: Level, key: string, date: string): string {
    return join(this.yearDir(level, key, date.slice(0, 4)), `${date}.json`);
  }

  monthFile(level: Level, key: string, month: string): string {
    return join(this.yearDir(level, key, month.slice(0, 4)), `${month}.month.json`);
  }

  yearFile(level: Level, key: string, year: string): string {
    return join(this.keyDir(level, key), `${year}.year.json`);
  }

  /** Instance → the projects it ran under, for access control. */
  get instanceProjectsFile(): string {
    return join(this.dataDir, 'index', 'instance-projects.json');
  }

  get ledgerDir(): string {
    return join(this.dataDir, 'ledger');
  }

  ledgerFile(month: string): string {
    return join(this.ledgerDir, month.slice(0, 4), `${month}.json`);
  }
}
