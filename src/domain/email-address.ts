/**
 * An address a summary may be sent to: one plain `local@domain` (RFC 5321's mailbox, without
 * quoted local parts or address literals), so a value can never smuggle a second recipient, a
 * display name or a header line into a message.
 */
const MAILBOX =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** RFC 5321: 64 octets of local part, 254 in all. */
const MAX_LOCAL = 64;
const MAX_ADDRESS = 254;

/** Why `value` is not an address a summary may go to, or null when it is one. */
export function emailAddressProblem(value: string): string | null {
  if (value.length > MAX_ADDRESS) return `expected an email address of at most ${MAX_ADDRESS} characters`;
  if (!MAILBOX.test(value)) return 'expected an email address such as alice@example.org';
  if (value.indexOf('@') > MAX_LOCAL) return `expected at most ${MAX_LOCAL} characters before the @`;
  if (value.startsWith('.') || value.includes('..') || value.includes('.@')) {
    return 'expected an email address whose local part has no leading, trailing or doubled dot';
  }
  return null;
}
