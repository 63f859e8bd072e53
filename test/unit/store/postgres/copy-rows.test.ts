import pg from 'pg';
import { CopyRows, copyRows } from '../../../../src/store/postgres/copy-rows';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

/** COPY's binary rows, written by the real server and read back as it stored them. */
describe('postgres COPY rows (binary format)', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('cl_copy');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`CREATE TABLE every_kind (
      id int4, small int2, flag bool, name text, names text[], bytes bytea, at timestamptz, day date)`);
  });

  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  const columns = ['int4', 'int2', 'bool', 'text', 'text[]', 'bytea', 'timestamptz', 'date'] as const;
  const target = 'every_kind (id, small, flag, name, names, bytes, at, day)';

  it('stores every kind of value as given, names needing no escape, nulls and empty arrays too', async () => {
    const awkward = 'tab\there, new\nline, back\\slash, "quoted", {braces}, NULL, ünïcode ☃, 🌍';
    const rows = new CopyRows(target, columns);
    rows.push([
      1,
      -2,
      true,
      awkward,
      ['A', awkward, ''],
      Buffer.from([0, 1, 255]),
      '2025-03-30T01:00:00.000Z',
      '2025-03-30',
    ]);
    rows.push([-2147483648, 32767, false, '', [], Buffer.alloc(0), Date.UTC(1999, 11, 31, 23), '1999-12-31']);
    rows.push([3, null, null, null, null, null, null, null]);
    // Far from PostgreSQL's epoch both ways, where the microseconds' high word is negative or large.
    rows.push([4, 0, true, 'x', ['x'], Buffer.from('x'), Date.UTC(1970, 0, 1), '2099-12-31']);
    rows.push([5, 0, true, 'y', ['y'], Buffer.from('y'), Date.UTC(2262, 3, 11, 23), '1900-03-01']);
    await copyRows(client, rows);
    const { rows: stored } = await client.query(
      `SELECT id, small, flag, name, names, bytes, (extract(epoch FROM at) * 1000)::bigint::text AS at, day::text FROM every_kind ORDER BY id`,
    );
    expect(stored).toEqual([
      {
        id: -2147483648,
        small: 32767,
        flag: false,
        name: '',
        names: [],
        bytes: Buffer.alloc(0),
        at: String(Date.UTC(1999, 11, 31, 23)),
        day: '1999-12-31',
      },
      {
        id: 1,
        small: -2,
        flag: true,
        name: awkward,
        names: ['A', awkward, ''],
        bytes: Buffer.from([0, 1, 255]),
        at: String(Date.UTC(2025, 2, 30, 1)),
        day: '2025-03-30',
      },
      { id: 3, small: null, flag: null, name: null, names: null, bytes: null, at: null, day: null },
      {
        id: 4,
        small: 0,
        flag: true,
        name: 'x',
        names: ['x'],
        bytes: Buffer.from('x'),
        at: '0',
        day: '2099-12-31',
      },
      {
        id: 5,
        small: 0,
        flag: true,
        name: 'y',
        names: ['y'],
        bytes: Buffer.from('y'),
        at: String(Date.UTC(2262, 3, 11, 23)),
        day: '1900-03-01',
      },
    ]);
  });

  it('spans chunks: rows larger than a chunk and many of them', async () => {
    await client.query('TRUNCATE every_kind');
    const rows = new CopyRows(target, columns);
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    rows.push([0, 0, true, 'big', [], big, 0, '2000-01-01']);
    for (let id = 1; id <= 20_000; id++)
      rows.push([
        id,
        1,
        false,
        `row ${id}`,
        [`m${id % 3}`],
        Buffer.from([id % 256]),
        id * 3_600_000,
        '2000-01-02',
      ]);
    await copyRows(client, rows);
    const [summary] = (
      await client.query(
        `SELECT count(*)::int AS n, sum(id)::text AS ids, max(length(bytes)) AS longest FROM every_kind`,
      )
    ).rows;
    expect(summary).toEqual({ n: 20_001, ids: String((20_000 * 20_001) / 2), longest: big.length });
  });

  it('refuses a value of the wrong kind before anything is sent, naming the table and the column type', () => {
    const rows = new CopyRows(target, columns);
    const row = [1, 1, true, 'a', ['a'], Buffer.from('a'), 0, '2000-01-01'] as const;
    expect(() => rows.push([1.5, ...row.slice(1)])).toThrow(/every_kind .*1\.5 where a int4 goes/);
    expect(() => rows.push([...row.slice(0, 6), 'not a time', row[7]])).toThrow(/where a timestamptz goes/);
    expect(() => rows.push([...row.slice(0, 7), '2000-1-1'])).toThrow(/where a date goes/);
    expect(() => rows.push([...row.slice(0, 4), ['a', 1 as unknown as string], ...row.slice(5)])).toThrow(
      /text\[\]/,
    );
    expect(() => rows.push(row.slice(1))).toThrow(/7 values for 8 columns/);
  });
});
