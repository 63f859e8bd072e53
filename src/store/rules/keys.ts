const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `value` with each lone UTF-16 surrogate as U+FFFD: a lone surrogate is not Unicode, so no backend
 * can keep it as text (no database text holds it, no file name can be percent-encoded from it).
 */
export function wellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}
