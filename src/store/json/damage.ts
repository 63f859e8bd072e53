import { errorFields, type Logger } from '../../log';
import type { CorruptFileError } from './errors';
import { writeSuspect, type QuarantineLayout } from './quarantine';

/** A damaged file read on every request is reported again at most this often. */
const REPORT_EVERY_MS = 10 * 60_000;

/**
 * Tells the operator, and the writer, of damaged files readers come across. Readers never move
 * files (one might move a good file a writer had just put in the damaged one's place): a usage
 * file gets a notice under quarantine/suspects/ that the next writer acts on.
 */
export class DamageReporter {
  /** When each damaged file was last reported. */
  private readonly reported = new Map<string, number>();

  constructor(
    private readonly quarantine: QuarantineLayout,
    private readonly log: Logger,
  ) {}

  /** Logs a damaged file that is not a usage file (the writer deals with those it meets itself). */
  reportOnce(path: string, reason: string): void {
    if (!this.due(path)) return;
    this.log.error('unreadable store file: read as empty until the writer repairs it', { path, reason });
  }

  /** Logs a damaged usage file and leaves a notice for the writer, which moves it aside. */
  async report(err: CorruptFileError): Promise<void> {
    if (!this.due(err.path)) return;
    this.log.error(
      'unreadable store file: reads of it are refused until the next ingestion moves it to quarantine/',
      { path: err.path, reason: err.message },
    );
    try {
      await writeSuspect(this.quarantine, {
        path: err.path,
        reason: err.message,
        foundAt: new Date().toISOString(),
      });
    } catch (writeErr) {
      this.log.warn('could not leave a notice of the unreadable file for the writer', {
        path: err.path,
        ...errorFields(writeErr),
      });
    }
  }

  private due(path: string): boolean {
    const now = Date.now();
    const last = this.reported.get(path);
    if (last !== undefined && now - last < REPORT_EVERY_MS) return false;
    this.reported.set(path, now);
    return true;
  }
}
