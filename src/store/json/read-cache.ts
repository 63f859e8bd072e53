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
  /** Reads under way, by path and stamp: concurrent requests for a file share one read and parse. */
  private readonly reading = new Map<string, Promise<{ value: unknown; chars: number } | null>>();
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
    const fresh = await this.readOnce(`${path}\u0000${stamp}`, read);
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

  /**
   * A burst of requests after a start or an ingestion all miss at once: without this, each parsed
   * the same files (ten concurrent years of hours, ten times 39 MB of JSON, and no answer for seconds).
   */
  private readOnce<T>(
    id: string,
    read: () => Promise<{ value: T; chars: number } | null>,
  ): Promise<{ value: T; chars: number } | null> {
    let pending = this.reading.get(id) as Promise<{ value: T; chars: number } | null> | undefined;
    if (pending === undefined) {
      pending = read().finally(() => this.reading.delete(id));
      this.reading.set(id, pending);
    }
    return pending;
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
