import type { Level } from '../domain/levels';
import type { KeptHour } from './kept-figures';
import type { DayEntry, IngestBatch, LedgerHour, MonthRollup, YearRollup } from '../domain/usage';
import type { InstanceIndex } from './instance-index';

/**
 * The narrow interface between ingestion, the read side and a storage backend.
 * Every backend passes the shared suite in test/support/describe-store.ts.
 */
export interface Store {
  /**
   * Merges one ingestion step. For every hour in `batch.outcomes`:
   * - ok: each key's bucket for that hour becomes the batch's figures, or is removed when the key
   *   had no usage then; `"failed"` markers for that hour disappear; the ledger says ok.
   * - failed, and the ledger does not already say ok: every key the store knows (at every level,
   *   including keys first seen in this batch) holds `"failed"` for that hour; the ledger records
   *   the error and counts the attempt.
   * - failed, and the ledger says ok: figures and status stay; only the attempt is recorded.
   * - ok, and the ledger says ok with more instance-hours of some machine type than the batch has
   *   (series vanished from the source): figures and ledger record stay, and the hour is in the
   *   result's `keptHours` (see `seriesVanished`), unless `options.replace`.
   * Day totals count only hours that did not fail; month and year roll-ups are brought level with
   * their days (with `deferRollups`, see ApplyOptions). A reader never sees a half-written file,
   * and a crash part-way is repaired on the next open or apply. The batch's `instances` go to the
   * instance index, with its newest ok hour.
   */
  applyBatch(batch: IngestBatch, options?: ApplyOptions): Promise<ApplyResult>;

  /** Brings every roll-up that batches deferred level with its days. */
  settleRollups(): Promise<void>;

  /** Ledger records of the hours of one month (`YYYY-MM`), keyed by hour start (epoch ms). */
  readLedgerMonth(month: string): Promise<Map<number, LedgerHour>>;

  /**
   * Day entries of `keys` on `date` (`YYYY-MM-DD`), in the order of `keys`; null where none. When
   * some keys' records are unreadable, rejects with a PartialReadError holding the others (the
   * same holds for `readMonths` and `readYears`).
   */
  readDays(level: Level, date: string, keys: readonly string[]): Promise<Array<DayEntry | null>>;

  /** Month roll-ups of `keys` for `month` (`YYYY-MM`), in the order of `keys`; null where none. */
  readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>>;

  /** Year roll-ups of `keys` for `year` (`YYYY`), in the order of `keys`; null where none. */
  readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>>;

  /**
   * Every project each instance was attributed to in any ingested hour (the union of the batches'
   * `instanceProjects`); an instance never ingested is absent.
   */
  readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>>;

  /** Every instance's life, kept current by `applyBatch`. */
  readonly instances: InstanceIndex;

  /** Every key the store holds usage for at a level, sorted. */
  listKeys(level: Level): Promise<string[]>;

  /** Resolves when the store can be read (for /readyz); rejects with the reason otherwise. */
  checkReadable(): Promise<void>;

  close(): Promise<void>;
}

export interface ApplyOptions {
  /**
   * For a run of consecutive batches (a backfill): the backend may bring a month's roll-ups level
   * once the batches have moved past the month, or on `settleRollups`, instead of after every
   * batch, which would rewrite each month and year once per batch. Its own reads still see them
   * level; another process may see a month's roll-ups behind its days until then.
   */
  deferRollups?: boolean;
  /**
   * Ok outcomes replace ok hours even when series vanished from the source (`ingest --replace`):
   * an operator's explicit choice, never the default.
   */
  replace?: boolean;
}

export interface ApplyResult {
  /** Ok hours whose stored figures were kept because the batch held fewer series than they. */
  keptHours: KeptHour[];
}

/**
 * A stored record that cannot be read back (a damaged file or row). Reads of it fail with this
 * until ingestion re-creates it; the backend reports it to the operator.
 */
export class UnreadableDataError extends Error {
  override readonly name = 'UnreadableDataError';

  constructor(
    readonly level: Level,
    readonly key: string,
    /** `YYYY-MM-DD`, `YYYY-MM` or `YYYY`. */
    readonly period: string,
    options?: { cause?: unknown },
  ) {
    super(`The stored usage of ${level} ${JSON.stringify(key)} for ${period} cannot be read`, options);
  }
}

/**
 * A read of many keys where some could not be read: `results` holds, in the order of the keys,
 * what was read, or the UnreadableDataError of a key that could not be.
 */
export class PartialReadError<T> extends Error {
  override readonly name = 'PartialReadError';

  constructor(readonly results: ReadonlyArray<T | null | UnreadableDataError>) {
    const failed = results.filter((r): r is UnreadableDataError => r instanceof UnreadableDataError);
    super(`${failed.length} of ${results.length} stored records cannot be read: ${failed[0]?.message}`);
  }
}
