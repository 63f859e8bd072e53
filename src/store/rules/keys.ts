import { createHash } from 'node:crypto';
import type { AttributedInstanceHour } from '../../domain/usage';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `value` with each lone UTF-16 surrogate as U+FFFD: a lone surrogate is not Unicode, so no backend
 * can keep it as text (no database text holds it, no file name can be percent-encoded from it).
 */
export function wellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * The longest key, once percent-encoded, that is kept as it is: the JSON store names a directory
 * after `encodeURIComponent(key)` (contract section 3), and most file systems allow 255 bytes a
 * name (NAME_MAX; encoded keys are ASCII). Its layout checks against this same limit.
 */
export const MAX_ENCODED_KEY_BYTES = 255;

/** `~` and 16 hex digits of the whole key's SHA-256: unreserved in a URI, so it encodes as itself. */
const DIGEST_SUFFIX_BYTES = 17;

/**
 * The key a label or registry value is counted under, whatever the store (README, Attribution):
 * part of the external interface, since it is what `usageKeys` lists, what series and bucket ids
 * are made of, and what a reader asks for, scopes a token to or configures `energy.machines` with.
 * Every store keeps this same key, so the stores answer the same keys and ids and a store copies
 * to any other. A value no store could name a directory after would otherwise fail the whole
 * ingestion, for good, and with it every other instance's hours, so:
 * - a lone UTF-16 surrogate (not Unicode; it cannot be percent-encoded) becomes U+FFFD;
 * - a key longer than MAX_ENCODED_KEY_BYTES once encoded keeps as much of its start as fits, then
 *   `~` and 16 hex digits of its SHA-256, so different long keys stay different.
 * Every other key is itself, and a stored key is its own stored key.
 */
export function storedKey(value: string): string {
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

/** An attributed hour (changed in place) with each of its keys as `storedKey` gives it. */
export function withStoredKeys<T extends AttributedInstanceHour>(hour: T): T {
  hour.instance = storedKey(hour.instance);
  hour.project = storedKey(hour.project);
  hour.machineName = storedKey(hour.machineName);
  hour.user = storedKey(hour.user);
  hour.experiment = storedKey(hour.experiment);
  return hour;
}
