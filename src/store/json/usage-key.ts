import { createHash } from 'node:crypto';
import { wellFormed } from '../rules/keys';

/**
 * The longest key, once percent-encoded, the JSON store can keep: it names a directory after
 * `encodeURIComponent(key)` (contract section 3), and most file systems allow 255 bytes a name
 * (NAME_MAX; encoded keys are ASCII). Its layout checks against this same limit. Other backends
 * have their own (see `Store.storedKey`).
 */
export const MAX_ENCODED_KEY_BYTES = 255;

/** `~` and 16 hex digits of the whole key's SHA-256: unreserved in a URI, so it encodes as itself. */
const DIGEST_SUFFIX_BYTES = 17;

/**
 * The key the JSON store keeps a label or registry value under (its `storedKey`). A value it
 * could not name a directory after would otherwise fail the whole ingestion, for good, and with it
 * every other instance's hours, so:
 * - a lone UTF-16 surrogate (not Unicode; it cannot be percent-encoded) becomes U+FFFD;
 * - a key longer than MAX_ENCODED_KEY_BYTES once encoded keeps as much of its start as fits, then
 *   `~` and 16 hex digits of its SHA-256, so different long keys stay different.
 * Every other key is itself.
 */
export function usageKey(value: string): string {
  // Called five times an instance-hour with a few thousand distinct values: remembered.
  let key = KNOWN.get(value);
  if (key === undefined) {
    if (KNOWN.size >= MAX_REMEMBERED) KNOWN.clear();
    key = storableKey(value);
    KNOWN.set(value, key);
  }
  return key;
}

const KNOWN = new Map<string, string>();
const MAX_REMEMBERED = 100_000;

function storableKey(value: string): string {
  const text = wellFormed(value);
  if (encodedBytes(text) <= MAX_ENCODED_KEY_BYTES) return text;
  const suffix = `~${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  let kept = '';
  let bytes = 0;
  for (const character of text) {
    const size = encodedBytes(character);
    if (bytes + size > MAX_ENCODED_KEY_BYTES - DIGEST_SUFFIX_BYTES) break;
    kept += character;
    bytes += size;
  }
  return kept + suffix;
}

function encodedBytes(text: string): number {
  return encodeURIComponent(text).length;
}
