/** `scheme://user:password@`: the part of a URL that must never be shown. */
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:"']*):([^\s/@"']*)@/gi;

/**
 * `text` with the password of every URL in it replaced by `***` (`mysql://root:pw@db` →
 * `mysql://root:***@db`): error messages of drivers and fetch quote the URL they were given.
 */
export function redactCredentials(text: string): string {
  return text.replace(CREDENTIALS, '$1$2:***@');
}

/**
 * `text` with every occurrence of `secret` replaced by `***`, whatever its case: a server may echo
 * a token it refused in another form (upper-cased, say), and that must not reach a log either.
 */
export function redactSecret(text: string, secret: string): string {
  if (secret === '') return text;
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(escaped, 'gi'), '***');
}
