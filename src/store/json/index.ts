export { openJsonStore, JsonStore } from './json-store';
export { CorruptFileError, InvalidKeyError } from './errors';
