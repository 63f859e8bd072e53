import { readTextIfExists, readTextIfPresent } from '../../fs/files';
import { CorruptFileError } from './errors';

/**
 * Why a store file cannot be read, for the errors that are damage like a corrupt file: reported
 * with its path (DATA_UNAVAILABLE for a usage file, moved aside by the next ingestion of it) rather
 * than a bare error code that names nothing and stops whoever meets it.
 */
const DAMAGE: Readonly<Record<string, string>> = {
  EISDIR: 'a directory stands where the file should be',
  EACCES: 'this account may not read it (EACCES)',
  EPERM: 'this account may not read it (EPERM)',
  EIO: 'the disk failed to read it (EIO)',
};

function damageAsCorrupt(path: string) {
  return (err: unknown): never => {
    const reason = DAMAGE[(err as NodeJS.ErrnoException | undefined)?.code ?? ''];
    if (reason !== undefined) throw new CorruptFileError(path, reason);
    throw err;
  };
}

/** `readTextIfExists` for a store file. */
export function readStoreText(path: string): Promise<string | null> {
  return readTextIfExists(path).catch(damageAsCorrupt(path));
}

/** `readTextIfPresent` for a store file. */
export function readStoreTextIfPresent(path: string): Promise<string | null> {
  return readTextIfPresent(path).catch(damageAsCorrupt(path));
}
