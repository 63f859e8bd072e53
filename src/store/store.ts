import type { IntensityCache } from '../domain/intensity-cache';
import type { Level } from '../domain/levels';
import type { KeptHour } from './kept-figures';
import type { DayEntry, IngestBatch, LedgerHour, MonthRollup, YearRollup } from '../domain/usage';
import type { InstanceIndex } from './instance-index';

/** What a read needs of each breakdown (see `Store.readDays`). */
export interface ReadParts {
  byMachine: boolean;
}

/**
 * The narrow interface between ingestion, the read side and a storage backend. What it stores and
 * how a batch changes it are the rules of src/store/rules (ledger, failed hours, roll-ups), which
 * every backend applies; test/support/describe-store.ts is the suite every backend passes.
 *
 * What a reader sees, whatever happened (a writer killed part-way, a damaged record moved aside):
 * figures only for hours the ledger holds ok, `"failed"` for hours it holds failed that a key
 * knew, and month and year roll-ups equal to the sum of the day entries it would read.
 */
export interface Store {
  /**
   * Takes the store's single writer: one at a time across every process using the store. Rejects
   * with StoreLockedError (naming the holder) when another holds it past `waitMs`. A writer left
   * by a process that died is taken over.
   */
  openWriter(options: WriterOptions): Promise<StoreWriter>;

  /** Ledger records of the hours in [fromHour, toHour) (epoch ms), keyed by hour start. */
  readLedger(fromHour: number, toHour: number): Promise<Map<number, LedgerHour>>;

  /**
   * The status alone of each of those records: what a series' buckets count, without parsing a
   * year of records. Optional: where a store has none, readers take the statuses of `readLedger`.
   */
  readLedgerStatuses?(fromHour: number, toHour: number): Promise<Map<number, LedgerHour['status']>>;

  /**
   * Day entries of `keys` on `date` (`YYYY-MM-DD`), in the order of `keys`; null where none. When
   * some keys' records are unreadable, rejects with a PartialReadError holding the others (the
   * same holds for `readMonths` and `readYears`). With `parts.byMachine` false the caller reads
   * only the `all` figures: a store may then leave every `byMachine` empty (the totals too), which
   * saves decoding most of a year of hours. A store that ignores it answers correctly.
   */
  readDays(
    level: Level,
    date: string,
    keys: readonly string[],
    parts?: ReadParts,
  ): Promise<Array<DayEntry | null>>;

  /** Month roll-ups of `keys` for `month` (`YYYY-MM`), in the order of `keys`; null where none. */
  readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>>;

  /** Year roll-ups of `keys` for `year` (`YYYY`), in the order of `keys`; null where none. */
  readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>>;

  /** Every key the store holds usage for at a level, sorted. */
  listKeys(level: Level): Promise<string[]>;

  /**
   * The access index: every project each instance was attributed to in any ingested hour (the
   * union of the batches' `instanceProjects`); an instance never ingested is absent.
   */
  readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>>;

  /** Every instance's life, kept current by each batch a writer applies. */
  readonly instances: InstanceIndex;

  /**
   * A token that changes with every batch a writer commits (usage, ledger or access index), seen
   * by every process using the store; undefined while a writer is part-way (or the store cannot
   * tell). Answer caches key on it: a token once given is never given for other contents.
   */
  version(): Promise<string | undefined>;

  /** Carbon intensities of settled hours, kept between runs. */
  readonly intensityCache: IntensityCache;

  /** Resolves when the store can be read (for /readyz); rejects with the reason otherwise. */
  checkReadable(): Promise<void>;

  /**
   * The store the API answers from, where it differs: the PostgreSQL store with `readUrl` reads
   * from a hot standby while the standby is current. Jobs (and whatever writes or decides what to
   * write) use the store itself. See `answersOf`.
   */
  answers?(): Store;

  /** Finishes what a writer of this handle left pending, releases it, and closes. */
  close(): Promise<void>;
}

export interface WriterOptions {
  /** What the writer is for, e.g. `carbonledger ingest`: told to whoever finds it held. */
  purpose: string;
  /** How long to keep trying while another holds the writer; 0 (the default) fails at once. */
  waitMs?: number;
  /** Pause between tries while waiting. */
  pollMs?: number;
  /** Gives up waiting (rejecting with the signal's reason). */
  signal?: AbortSignal;
}

/** The one writer of a store. */
export interface StoreWriter {
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
   * Day totals count only hours that did not fail; roll-ups equal their days for every reader.
   * The batch's `instances` go to the instance index, with its newest ok hour.
   * Rejects with InvalidBatchError, writing nothing, for a batch that contradicts itself. Damage
   * the batch comes across is moved aside (and its hours failed), not a reason to stop.
   */
  applyBatch(batch: IngestBatch, options?: ApplyOptions): Promise<ApplyResult>;

  /** Finishes what is pending and lets another writer in. Safe to call twice. */
  release(): Promise<void>;
}

export interface ApplyOptions {
  /**
   * Ok outcomes replace ok hours even when series vanished from the source (`ingest --replace`):
   * an operator's explicit choice, never the default.
   */
  replace?: boolean;
}

export interface ApplyResult {
  /** Ok hours whose stored figures were kept because the batch held fewer series or samples than they. */
  keptHours: KeptHour[];
}

/** The store the API's answers read: `store.answers()`, or `store` itself. */
export function answersOf(store: Store): Store {
  return store.answers?.() ?? store;
}

/** Runs `fn` with the store's writer and releases it afterwards, whatever happens. */
export async function withWriter<T>(
  store: Pick<Store, 'openWriter'>,
  options: WriterOptions,
  fn: (writer: StoreWriter) => Promise<T>,
): Promise<T> {
  const writer = await store.openWriter(options);
  try {
    return await fn(writer);
  } finally {
    await writer.release();
  }
}

/** Who holds a store's writer, as far as the store can tell. */
export interface WriterHolder {
  pid?: number;
  hostname?: string;
  /** ISO time the writer was taken. */
  startedAt?: string;
  purpose?: string;
}

/** Another holds the store's writer. */
export class StoreLockedError extends Error {
  override readonly name = 'StoreLockedError';

  constructor(
    /** Where the writer is held (a lock file, a database), for the message. */
    readonly where: string,
    readonly holder: WriterHolder | undefined,
  ) {
    super(
      holder
        ? `ingestion is locked: ${where} is held by pid ${holder.pid} on ${holder.hostname}` +
            `${holder.purpose ? ` (${holder.purpose})` : ''} since ${holder.startedAt}`
        : `ingestion is locked: ${where} exists but does not say who holds it (if no ingest is running, delete it)`,
    );
  }
}

/** A batch a store cannot apply as given; nothing has been written when it is thrown. */
export class InvalidBatchError extends Error {
  override readonly name: string = 'InvalidBatchError';
}

/**
 * A stored record that cannot be read back (a damaged file or row, or one this account may not
 * read). Reads of it fail with this until ingestion re-creates it; the backend reports it.
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
