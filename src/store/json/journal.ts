import { existsSync } from 'node:fs';
import { putFile, syncDir, writeFileAtomic } from '../../fs/files';
import { journalText, parseJournal, type MonthRef } from './codec';
import type { JsonLayout } from './layout';
import { readStoreText } from './read';

/**
 * `journal.json`: the months whose day entries a writer is changing, written before the first day
 * changes and removed once their roll-ups agree with the days. Readers roll the months it names up
 * from their days; the next writer rebuilds them (see JournalRepair).
 */
export class Journal {
  /**
   * The months named by the journal this handle wrote and still trusts; null when it wrote none,
   * or when what is pending may differ from the disk (a batch failed part-way): the journal is then
   * left for the repair to rebuild from the days.
   */
  private journaled: Map<string, MonthRef> | null = null;
  /** A journal of this handle's was left to the repair (see `forget`) and is not yet repaired. */
  left = false;

  constructor(private readonly layout: JsonLayout) {}

  get path(): string {
    return this.layout.journalFile;
  }

  /** This handle wrote the journal and what it names is what is pending. */
  get trusted(): boolean {
    return this.journaled !== null;
  }

  /** Writes the journal naming `months` (by id), unless the one this handle wrote names them all. */
  async cover(months: ReadonlyMap<string, MonthRef>): Promise<void> {
    const journaled = this.journaled;
    const covered = journaled !== null && [...months.keys()].every((id) => journaled.has(id));
    // One stat a batch: a journal removed behind this handle's back is written again.
    if (covered && existsSync(this.path)) return;
    await this.write([...months.values()]);
    this.journaled = new Map(months);
  }

  /** Writes the journal durably, naming `months`, without trusting it as this handle's own. */
  async write(months: readonly MonthRef[]): Promise<void> {
    await writeFileAtomic(this.path, journalText(months));
    await syncDir(this.layout.dataDir);
  }

  /** The months the journal on disk names; null when there is none. Throws CorruptFileError. */
  async read(): Promise<MonthRef[] | null> {
    const text = await readStoreText(this.path);
    return text === null ? null : parseJournal(text, this.path);
  }

  /** What is pending may no longer be what the disk holds: the journal is left to the repair. */
  forget(): void {
    if (this.journaled !== null) this.left = true;
    this.journaled = null;
  }

  /** Every month it named agrees with its days. */
  async remove(): Promise<void> {
    await putFile(this.path, null);
    this.journaled = null;
    this.left = false;
  }
}
