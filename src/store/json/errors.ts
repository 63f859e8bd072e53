import { InvalidBatchError } from '../store';

/** A store file that cannot be read back: not JSON, or not the shape this store writes. */
export class CorruptFileError extends Error {
  override readonly name = 'CorruptFileError';

  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Corrupt store file ${path}: ${reason}`);
  }
}

/** A key that cannot name a directory: empty, not well-formed Unicode, or too long once encoded. */
export class InvalidKeyError extends InvalidBatchError {
  override readonly name = 'InvalidKeyError';
}
