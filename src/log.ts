import { redactCredentials } from './domain/redact';

/** A small structured logger: one JSON line per event on stderr, so stdout stays for command output. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

type Level = 'info' | 'warn' | 'error';

export function jsonLogger(
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
  base: Record<string, unknown> = {},
): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    // A field may quote a URL a driver was given: its password never reaches the log.
    write(
      redactCredentials(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields })),
    );
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => jsonLogger(write, { ...base, ...fields }),
  };
}

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

export function errorFields(err: unknown): Record<string, unknown> {
  return err instanceof Error ? { error: err.message, stack: err.stack } : { error: String(err) };
}
