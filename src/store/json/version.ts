import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { readTextIfExists, writeFileAtomic } from '../../fs/files';
import type { JsonLayout } from './layout';

/**
 * The store's version (see `Store.version`): `version` holds a random token each commit rewrites;
 * while `journal.json` exists a writer is part-way (or was killed part-way), and what readers see
 * may still change.
 */
export class StoreVersion {
  /** Something a reader sees changed since the version was last rewritten. */
  private changed = false;

  constructor(private readonly layout: JsonLayout) {}

  async read(): Promise<string | undefined> {
    if (existsSync(this.layout.journalFile)) return undefined;
    try {
      return (await readTextIfExists(this.layout.versionFile)) ?? 'initial';
    } catch {
      return undefined;
    }
  }

  markChanged(): void {
    this.changed = true;
  }

  /** A new token, when something changed since the last. */
  async bump(): Promise<void> {
    if (!this.changed) return;
    await writeFileAtomic(this.layout.versionFile, randomBytes(12).toString('hex'));
    this.changed = false;
  }
}
