/** `scheme://user:password@`: the part of a URL that must never be shown. */
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:"']*):([^\s/@"']*)@/gi;

/**
 * `text` with the password of every URL in it replaced by `***` (`mysql://root:pw@db` →
 * `mysql://root:***@db`): error messages of drivers and fetch quote the URL they were given.
 */
export function redactCredentials(text: string): string {
  return text.replace(CREDENTIALS, '$1$2:***@');
}
