import type { Level } from '../../domain/levels';
import { utcMonth } from '../../domain/time';
import type { IngestBatch } from '../../domain/usage';
import type { Logger } from '../../log';
import { validateBatch } from '../rules/batch';
import type { ApplyOptions, ApplyResult } from '../store';
import { AccessIndexFile } from './access-index';
import { BatchWriter } from './batch-writer';
import type { DamageReporter } from './damage';
import type { JsonInstanceIndex } from './instance-index';
import { Journal } from './journal';
import { encodeKey, type JsonLayout } from './layout';
import { QuarantineLayout } from './quarantine';
import { Quarantiner } from './quarantiner';
import { JournalRepair } from './repair';
import { RollupFiles } from './rollup-files';
import { RollupSettler } from './rollups';
import type { StoreVersion } from './version';

/** Damaged files one repair or batch moves aside before it gives up. */
const MAX_QUARANTINED = 100;

/**
 * Everything a JSON store's writer does, one piece of work after another within this process
 * (across processes the writer lock keeps one writer): batches, the roll-ups they defer, the repair
 * of what a writer stopped part-way left, and damaged files moved aside.
 */
export class JsonWriteSide {
  private writing: Promise<unknown> = Promise.resolve();
  private readonly journal: Journal;
  private readonly settler: RollupSettler;
  private readonly repairer: JournalRepair;
  private readonly quarantiner: Quarantiner;
  private readonly batches: BatchWriter;
  /** Months the current writer found a ledger file for, or recorded: checked once a writer. */
  private readonly ledgerMonths = new Set<string>();

  constructor(
    layout: JsonLayout,
    version: StoreVersion,
    instances: JsonInstanceIndex,
    damage: DamageReporter,
    listKeys: (level: Level) => Promise<string[]>,
    log: Logger,
  ) {
    const files = new RollupFiles(layout);
    const quarantine = new QuarantineLayout(layout.dataDir);
    this.journal = new Journal(layout);
    this.settler = new RollupSettler(files, this.journal, version);
    this.repairer = new JournalRepair(files, this.journal, quarantine, version, listKeys, log);
    this.quarantiner = new Quarantiner(files, quarantine, this.journal, damage, listKeys, log);
    const accessIndex = new AccessIndexFile(layout, log);
    this.batches = new BatchWriter(layout, this.settler, version, accessIndex, instances, listKeys);
  }

  /** Work from this process, one after another. */
  serially<T>(work: () => Promise<T>): Promise<T> {
    const done = this.writing.then(work);
    this.writing = done.catch(() => undefined);
    return done;
  }

  /**
   * Applies a batch (see `StoreWriter.applyBatch`) after repairing what is left to repair. A damaged
   * file the batch comes across is moved aside, and the batch planned again without it.
   */
  apply(batch: IngestBatch, options: ApplyOptions): Promise<ApplyResult> {
    return this.serially(async () => {
      validateBatch(batch);
      // A key too long for a directory name is refused before anything is written.
      for (const entry of batch.entries) encodeKey(entry.key);
      await this.repairQuarantining();
      await this.rebuildLostLedgerMonths(batch);
      for (let round = 1; ; round++) {
        try {
          return await this.batches.apply(batch, options);
        } catch (err) {
          await this.quarantineOrThrow(err, round);
          await this.repairQuarantining();
        }
      }
    });
  }

  private async rebuildLostLedgerMonths(batch: IngestBatch): Promise<void> {
    const months = batch.outcomes.map(({ hour }) => utcMonth(hour));
    if (months.every((month) => this.ledgerMonths.has(month))) return;
    const lost = await this.repairer.lostLedgerMonths(months);
    if (lost.length > 0) {
      // What is pending is named by the journal, which the rebuild rewrites and repairs.
      this.settler.forget();
      await this.repairer.rebuild(lost);
    }
    for (const month of months) this.ledgerMonths.add(month);
  }

  /** The repair a writer makes when it opens: what a writer stopped part-way left, damage reported. */
  repair(): Promise<void> {
    this.ledgerMonths.clear();
    return this.serially(() => this.repairQuarantining());
  }

  /** Brings every pending roll-up level, and repairs what a failed batch of this writer left. */
  settle(): Promise<void> {
    return this.serially(async () => {
      if (this.journal.left) await this.repairQuarantining();
      await this.settlePending();
    });
  }

  /** Settles what is pending only (not the repair of a journal left: another may hold the writer). */
  settlePendingOnly(): Promise<void> {
    return this.serially(() => this.settlePending());
  }

  private async settlePending(): Promise<void> {
    if (!this.settler.hasPending) return;
    try {
      await this.settler.settle(() => true);
      await this.settler.removeJournalOnceSettled();
    } catch (err) {
      await this.quarantineOrThrow(err, 1);
      await this.repairQuarantining();
    }
  }

  /** The journal's repair, then the damaged files readers reported, until roll-ups rebuild cleanly. */
  private async repairQuarantining(): Promise<void> {
    for (let round = 1; ; round++) {
      try {
        await this.repairer.repair();
        if (!(await this.quarantiner.takeSuspects())) return;
      } catch (err) {
        await this.quarantineOrThrow(err, round);
      }
    }
  }

  /** Moves the damaged file `err` names aside; rethrows anything else. */
  private async quarantineOrThrow(err: unknown, round: number): Promise<void> {
    // What is pending may no longer be what the disk holds; the journal names it all.
    this.settler.forget();
    if (round > MAX_QUARANTINED || !(await this.quarantiner.quarantineIfUsage(err))) throw err;
  }
}
