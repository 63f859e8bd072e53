import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Level } from '../../domain/levels';
import type { IntensityCache } from '../../domain/intensity-cache';
import type { DayEntry, LedgerHour, MonthRollup, YearRollup } from '../../domain/usage';
import { hasCode } from '../../fs/files';
import { silentLogger, type Logger } from '../../log';
import { StoreLockedError, type Store, type StoreWriter, type WriterOptions } from '../store';
import { DamageReporter } from './damage';
import { JsonInstanceIndex } from './instance-index';
import { fileIntensityCache } from './intensity-cache';
import { JsonLayout } from './layout';
import { acquireIngestLock, removeDeadWritersTemporaries, type HeldIngestLock } from './lock';
import { JsonReader } from './reader';
import { StoreVersion } from './version';
import { JsonWriteSide } from './write-side';

/**
 * The embedded default store: JSON files under one data directory (contract section 3). Reads
 * never write: what a writer stopped part-way left, and damaged files, are read around (see
 * JsonReader) and repaired by the next writer when it opens (see JsonWriteSide).
 */
export class JsonStore implements Store {
  readonly instances: JsonInstanceIndex;
  readonly intensityCache: IntensityCache;
  private readonly layout: JsonLayout;
  private readonly stamp: StoreVersion;
  private readonly reader: JsonReader;
  private readonly writeSide: JsonWriteSide;
  /** The writer lock while this handle holds it. */
  private lock: HeldIngestLock | undefined;

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.layout = new JsonLayout(dataDir);
    this.instances = new JsonInstanceIndex(dataDir);
    this.stamp = new StoreVersion(this.layout);
    const damage = new DamageReporter(log);
    this.reader = new JsonReader(this.layout, damage, log);
    this.intensityCache = fileIntensityCache(join(dataDir, 'carbon'), log);
    const listKeys = (level: Level) => this.reader.listKeys(level);
    this.writeSide = new JsonWriteSide(this.layout, this.stamp, this.instances, damage, listKeys, log);
  }

  /**
   * Takes the writer lock (a lock a killed writer left is taken over), then repairs what a writer
   * stopped part-way left and moves aside the damaged files readers of this handle reported.
   */
  async openWriter(options: WriterOptions): Promise<StoreWriter> {
    if (this.lock !== undefined) throw new StoreLockedError(this.lock.file, this.lock.holder);
    await mkdir(this.layout.dataDir, { recursive: true });
    const lock = await acquireIngestLock(this.layout.dataDir, this.log, options);
    this.lock = lock;
    try {
      await removeDeadWritersTemporaries(this.layout.dataDir);
      await this.writeSide.repair();
    } catch (err) {
      this.lock = undefined;
      await lock.release();
      throw err;
    }
    let released = false;
    return {
      applyBatch: (batch, applyOptions = {}) => {
        if (released) return Promise.reject(new Error('this writer was released'));
        return this.writeSide.apply(batch, applyOptions);
      },
      release: async () => {
        if (released) return;
        released = true;
        try {
          await this.writeSide.settle();
        } finally {
          this.lock = undefined;
          await lock.release();
        }
      },
    };
  }

  version(): Promise<string | undefined> {
    return this.stamp.read();
  }

  readLedger(fromHour: number, toHour: number): Promise<Map<number, LedgerHour>> {
    return this.reader.readLedger(fromHour, toHour);
  }

  readDays(level: Level, date: string, keys: readonly string[]): Promise<Array<DayEntry | null>> {
    return this.reader.readDays(level, date, keys);
  }

  /** Months this handle's writer has not settled yet are rolled up from their days (the journal names them). */
  readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>> {
    return this.reader.readMonths(level, month, keys);
  }

  readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>> {
    return this.reader.readYears(level, year, keys);
  }

  readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>> {
    return this.reader.readInstanceProjects();
  }

  listKeys(level: Level): Promise<string[]> {
    return this.reader.listKeys(level);
  }

  /** A data directory not made yet is an empty store. */
  async checkReadable(): Promise<void> {
    try {
      await readdir(this.layout.dataDir);
    } catch (err) {
      if (!hasCode(err, 'ENOENT')) throw err;
    }
  }

  async close(): Promise<void> {
    // Not the repair of a journal left behind: another process may hold the lock by now.
    await this.writeSide.settlePendingOnly();
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }
}

/** Opens a JSON store for reading: nothing is written until a writer opens (see `openWriter`). */
export async function openJsonStore(options: { dataDir: string; log?: Logger }): Promise<JsonStore> {
  return new JsonStore(options.dataDir, options.log ?? silentLogger);
}
