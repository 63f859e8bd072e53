/*
 * Why `serve` could not start listening: apart from the server, so the CLI can name them without
 * loading the HTTP stack for every other verb.
 */

/** The server could not listen: the host names no address here, the port is taken, or not ours. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  /** The host is no address of this machine: a mistake in the config, not a passing condition. */
  readonly addressUnknown: boolean;

  constructor(host: string, port: number, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? '';
    const addressUnknown = ADDRESS_UNKNOWN.has(code);
    const reason = addressUnknown
      ? 'no address of this machine has that name'
      : (LISTEN_FAILURES[code] ?? String((cause as Error | undefined)?.message ?? cause));
    super(`server.host/server.port: cannot listen on ${host} port ${port}: ${reason}`, { cause });
    this.addressUnknown = addressUnknown;
  }
}

const ADDRESS_UNKNOWN = new Set(['ENOTFOUND', 'EADDRNOTAVAIL']);
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the port is in use',
  EACCES: 'not allowed (a port below 1024 needs privileges)',
  EAI_AGAIN: 'the name could not be looked up just now (DNS); try again',
};

/** Contract section 7: an open API (no `auth`) asked to listen beyond this machine. */
export class UnsafeListenError extends Error {
  override readonly name = 'UnsafeListenError';
}
