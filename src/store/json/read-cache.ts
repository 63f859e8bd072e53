import { statSync, type BigIntStats } from 'node:fs';

/**
 * Parsed files of the read side, kept while the file on disk is the same file. Every write is a
 * rename of a new file over the old (files.ts), so a changed file has a new inode; the stamp also
 * holds the size and change times. One stat per read replaces a read and a JSON parse: a year of
 * hours is 365 day files, and parsing them is most of the cost of answering.
 * Callers must treat what they get as immutable: it is shared between requests.
 */
export class ReadCache {
  private readonly entries = new Map<string, { stamp: string; value: unknown; chars: number }>();
  private chars = 0;

  /** @param maxChars bound on the summed file lengths held (a parsed file takes a few times its text). */
  constructor(private readonly maxChars: number) {}

  /** The parsed file, or null when it does not exist; `read` reads and parses it. */
  async get<T>(
    path: string,
    read: () => Promise<{ value: T; chars: number } | null>,
    opts: { settledMs?: number } = {},
  ): Promise<T | null> {
    const stamp = stampOf(path, opts.settledMs ?? 0);
    if (stamp === undefined) return (await read())?.value ?? null;
    if (stamp === null) {
      this.drop(path);
      return null;
    }
    const cached = this.entries.get(path);
    if (cached !== undefined && cached.stamp === stamp) {
      // Least recently used goes first: re-inserting moves the entry to the end of the Map's order.
      this.entries.delete(path);
      this.entries.set(path, cached);
      return cached.value as T;
    }
    const fresh = await read();
    if (fresh === null) {
      this.drop(path);
      return null;
    }
    // Stamped before reading: a file replaced in between is read again next time, never kept stale.
    this.drop(path);
    if (fresh.chars <= this.maxChars / 4) {
      this.entries.set(path, { stamp, value: fresh.value, chars: fresh.chars });
      this.chars += fresh.chars;
      for (const [oldest, entry] of this.entries) {
        if (this.chars <= this.maxChars) break;
        this.entries.delete(oldest);
        this.chars -= entry.chars;
      }
    }
    return fresh.value;
  }

  private drop(path: string): void {
    const entry = this.entries.get(path);
    if (entry === undefined) return;
    this.entries.delete(path);
    this.chars -= entry.chars;
  }
}

/**
 * Synchronous on purpose: a stat is microseconds, far cheaper than a trip through the thread pool.
 * Null: no such file; undefined: not to be cached (the stat failed, and the read will say why; or
 * the directory is still changing).
 */
function stampOf(path: string, settledMs: number): string | null | undefined {
  let stats: BigIntStats | undefined;
  try {
    stats = statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  if (stats === undefined) return null;
  // A directory's times tick coarsely and it changes in place: a listing taken while it is still
  // changing could miss an entry added in the same tick, so only a settled one is kept.
  if (settledMs > 0 && Number(stats.mtimeMs) > Date.now() - settledMs) return undefined;
  return `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}
