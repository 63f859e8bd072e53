import { readTextIfExists, readTextIfPresent } from '../../fs/files';
import { CorruptFileError } from './errors';

/**
 * A directory standing where a store file should be is damage like a corrupt file: reported with
 * its path (DATA_UNAVAILABLE for a usage file, a notice for the writer, moved aside by the next
 * ingestion) rather than a bare EISDIR that names nothing.
 */
function directoryAsCorrupt(path: string) {
  return (err: unknown): never => {
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'EISDIR') {
      throw new CorruptFileError(path, 'a directory stands where the file should be');
    }
    throw err;
  };
}

/** `readTextIfExists` for a store file. */
export function readStoreText(path: string): Promise<string | null> {
  return readTextIfExists(path).catch(directoryAsCorrupt(path));
}

/** `readTextIfPresent` for a store file. */
export function readStoreTextIfPresent(path: string): Promise<string | null> {
  return readTextIfPresent(path).catch(directoryAsCorrupt(path));
}
