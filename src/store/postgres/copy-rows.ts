import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/*
 * Rows for `COPY … FROM STDIN (FORMAT binary)`: the format of
 * https://www.postgresql.org/docs/current/sql-copy.html ("Binary Format"), each field as its type's
 * send function writes it. Against the text format it spares the hex of every bytea (twice its
 * bytes, built as strings, joined, encoded again) and any escaping of names.
 */

/** A column's type, as the binary format writes it. */
export type CopyColumn = 'int2' | 'int4' | 'bool' | 'text' | 'text[]' | 'bytea' | 'timestamptz' | 'date';
/** A timestamptz is epoch ms or an ISO instant; a date is `YYYY-MM-DD`. */
export type CopyValue = number | boolean | string | readonly string[] | Buffer | null;

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TEXT_OID = 25;
/** PostgreSQL's epoch, 2000-01-01T00:00:00Z, as Unix ms. */
const PG_EPOCH_MS = 946_684_800_000;
const DAY_MS = 86_400_000;
const CHUNK_BYTES = 1 << 20;
const TWO_32 = 2 ** 32;

/** The rows of one COPY, in chunks of about a megabyte; `push` checks each value against its column. */
export class CopyRows {
  private readonly done: Buffer[] = [];
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private at = 0;
  private count = 0;

  /** `target` is the table and its columns, e.g. `usage_day (key_id, day, machines, figures)`. */
  constructor(
    readonly target: string,
    private readonly columns: readonly CopyColumn[],
  ) {
    this.bytes(SIGNATURE);
    this.int32(0); // flags
    this.int32(0); // header extension length
  }

  get length(): number {
    return this.count;
  }

  push(values: readonly CopyValue[]): void {
    if (values.length !== this.columns.length) {
      throw new Error(
        `a row of ${this.target} has ${values.length} values for ${this.columns.length} columns`,
      );
    }
    this.int16(values.length);
    for (let i = 0; i < values.length; i++) this.field(this.columns[i], values[i]);
    this.count++;
  }

  /** The whole COPY stream, trailer included; the rows are not to be pushed to again. */
  finish(): Buffer[] {
    this.int16(-1);
    return [...this.done, this.chunk.subarray(0, this.at)];
  }

  private field(column: CopyColumn, value: CopyValue): void {
    if (value === null) return this.int32(-1);
    switch (column) {
      case 'int2':
        this.int32(2);
        return this.int16(this.integer(value, column));
      case 'int4':
        this.int32(4);
        return this.int32(this.integer(value, column));
      case 'bool':
        if (typeof value !== 'boolean') throw this.wrong(value, column);
        this.int32(1);
        this.reserve(1);
        this.chunk[this.at++] = value ? 1 : 0;
        return;
      case 'text':
        if (typeof value !== 'string') throw this.wrong(value, column);
        return this.text(value);
      case 'bytea':
        if (!Buffer.isBuffer(value)) throw this.wrong(value, column);
        this.int32(value.length);
        return this.bytes(value);
      case 'timestamptz':
        return this.timestamp(value);
      case 'date':
        return this.date(value);
      case 'text[]':
        return this.textArray(value);
    }
  }

  private timestamp(value: CopyValue): void {
    const ms = typeof value === 'string' ? Date.parse(value) : value;
    if (typeof ms !== 'number' || !Number.isInteger(ms)) throw this.wrong(value, 'timestamptz');
    // int64 microseconds since PostgreSQL's epoch, high and low words (exact below 2^53).
    const micros = (ms - PG_EPOCH_MS) * 1000;
    const high = Math.floor(micros / TWO_32);
    this.int32(8);
    this.int32(high);
    this.reserve(4);
    this.at = this.chunk.writeUInt32BE(micros - high * TWO_32, this.at);
  }

  private date(value: CopyValue): void {
    const ms =
      typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
    if (!Number.isFinite(ms)) throw this.wrong(value, 'date');
    this.int32(4);
    this.int32((ms - PG_EPOCH_MS) / DAY_MS);
  }

  private textArray(value: CopyValue): void {
    if (!Array.isArray(value) || !value.every((element) => typeof element === 'string')) {
      throw this.wrong(value, 'text[]');
    }
    const elements = (value as readonly string[]).map((element) => Buffer.from(element, 'utf8'));
    // An empty array has no dimensions; one of n elements has one, indexed from 1.
    const header = elements.length === 0 ? 12 : 20;
    this.int32(header + elements.reduce((sum, element) => sum + 4 + element.length, 0));
    this.int32(elements.length === 0 ? 0 : 1);
    this.int32(0); // no nulls
    this.int32(TEXT_OID);
    if (elements.length === 0) return;
    this.int32(elements.length);
    this.int32(1);
    for (const element of elements) {
      this.int32(element.length);
      this.bytes(element);
    }
  }

  private text(value: string): void {
    const length = Buffer.byteLength(value, 'utf8');
    this.int32(length);
    this.reserve(length);
    this.at += this.chunk.write(value, this.at, 'utf8');
  }

  private integer(value: CopyValue, column: CopyColumn): number {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw this.wrong(value, column);
    return value;
  }

  private wrong(value: CopyValue, column: CopyColumn): Error {
    return new Error(`a row of ${this.target} has ${String(value)} where a ${column} goes`);
  }

  private int16(value: number): void {
    this.reserve(2);
    this.at = this.chunk.writeInt16BE(value, this.at);
  }

  private int32(value: number): void {
    this.reserve(4);
    this.at = this.chunk.writeInt32BE(value, this.at);
  }

  private bytes(value: Buffer): void {
    this.reserve(value.length);
    this.at += value.copy(this.chunk, this.at);
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.chunk.length) return;
    this.done.push(this.chunk.subarray(0, this.at));
    this.chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
    this.at = 0;
  }
}

/** Streams the rows into their table on `client` (inside the caller's transaction, if any). */
export async function copyRows(client: pg.ClientBase, rows: CopyRows): Promise<void> {
  if (rows.length === 0) return;
  // The target is the store's own constant, never input.
  await pipeline(
    Readable.from(rows.finish()),
    client.query(copyFrom(`COPY ${rows.target} FROM STDIN (FORMAT binary)`)),
  );
}

/** Rows for usage_hour: a key's hour, failed or its figures (codec.ts). */
export const hourRows = (): CopyRows =>
  new CopyRows('usage_hour (key_id, hour, failed, machines, figures)', [
    'int4',
    'timestamptz',
    'bool',
    'text[]',
    'bytea',
  ]);

/** Rows for usage_day, usage_month (a month is its first day) or usage_year (a smallint). */
export const periodRows = (table: 'usage_day' | 'usage_month' | 'usage_year'): CopyRows => {
  const column = { usage_day: 'day', usage_month: 'month', usage_year: 'year' }[table];
  return new CopyRows(`${table} (key_id, ${column}, machines, figures)`, [
    'int4',
    table === 'usage_year' ? 'int2' : 'date',
    'text[]',
    'bytea',
  ]);
};
