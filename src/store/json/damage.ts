import type { Logger } from '../../log';
import type { CorruptFileError } from './errors';

/** A damaged file read on every request is reported again at most this often. */
const REPORT_EVERY_MS = 10 * 60_000;

/**
 * Tells the operator of damaged files readers come across, and the writer of this store handle
 * (a server's scheduled ingestion) of the usage files among them, which it moves aside. Readers
 * write nothing: another process's writer finds a damaged file when its batch reads it.
 */
export class DamageReporter {
  /** When each damaged file was last reported. */
  private readonly reported = new Map<string, number>();
  /** Usage files reported and not yet taken by the writer. */
  private readonly suspects = new Set<string>();

  constructor(private readonly log: Logger) {}

  /**
   * Logs a damaged file that is not a usage file, saying how reads go on without it (the writer
   * deals with those it meets itself).
   */
  reportOnce(path: string, reason: string, meanwhile: string): void {
    if (!this.due(path)) return;
    this.log.error(`unreadable store file: ${meanwhile}`, { path, reason });
  }

  /** Logs a damaged usage file and tells the writer, which moves it aside. */
  report(err: CorruptFileError): void {
    this.suspects.add(err.path);
    if (!this.due(err.path)) return;
    this.log.error(
      'unreadable store file: reads of it are refused until an ingestion of its period moves it to quarantine/',
      { path: err.path, reason: err.message },
    );
  }

  /** The usage files reported since the last call. */
  takeSuspects(): string[] {
    const taken = [...this.suspects];
    this.suspects.clear();
    return taken;
  }

  private due(path: string): boolean {
    const now = Date.now();
    const last = this.reported.get(path);
    if (last !== undefined && now - last < REPORT_EVERY_MS) return false;
    this.reported.set(path, now);
    return true;
  }
}
