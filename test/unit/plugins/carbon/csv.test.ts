import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../../../src/config';
import { HOUR_MS } from '../../../../src/domain/time';
import type { HourIntensity } from '../../../../src/domain/usage';
import { createCsvIntensitySource, parseIntensityCsv } from '../../../../src/plugins/carbon/csv';
import { recordingLogger } from './fake-carbon-intensity-api';

const FIXTURES = join(__dirname, '../../../fixtures/carbon');
const T0 = Date.parse('2025-09-20T00:00Z');
const at = (hours: number) => T0 + hours * HOUR_MS;

const fromCsv = (gPerKwh: number): HourIntensity => ({ gPerKwh, estimated: false, source: 'csv' });
const fallback: HourIntensity = { gPerKwh: 300, estimated: true, source: 'csv (fallback)' };

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('csv intensity source', () => {
  it('averages the rows within each hour, times in any zone', async () => {
    const csv = createCsvIntensitySource({ file: join(FIXTURES, 'intensity.csv'), fallbackGPerKwh: 300 });

    expect(await csv.intensities(at(0), at(3))).toEqual(
      new Map([
        [at(0), fromCsv((100 + 110) / 2)],
        [at(1), fromCsv(90)],
        // 03:00+01:00 is 02:00Z, averaged with 02:30Z.
        [at(2), fromCsv((250 + 70) / 2)],
      ]),
    );
  });

  it('falls back, estimated, for hours the file does not cover, and says so', async () => {
    const { log, warnings } = recordingLogger();
    const csv = createCsvIntensitySource(
      { file: join(FIXTURES, 'intensity.csv'), fallbackGPerKwh: 300 },
      { log },
    );

    expect(await csv.intensities(at(1), at(5))).toEqual(
      new Map([
        [at(1), fromCsv(90)],
        [at(2), fromCsv(160)],
        [at(3), fallback],
        [at(4), fallback],
      ]),
    );
    expect(warnings).toEqual([
      {
        msg: 'carbon CSV has no rows for some hours; using the fallback intensity',
        fields: {
          file: join(FIXTURES, 'intensity.csv'),
          hours: 2,
          firstHour: '2025-09-20T03:00:00.000Z',
          fallbackGPerKwh: 300,
        },
      },
    ]);
  });

  it('names every bad line and column on load', () => {
    expect(
      problemsOf(() => createCsvIntensitySource({ file: join(FIXTURES, 'invalid.csv'), fallbackGPerKwh: 1 })),
    ).toEqual([
      'carbon.file line 3: time: expected an ISO time with a zone, like 2025-09-20T00:00Z',
      'carbon.file line 4: gPerKwh: expected a number ≥ 0',
      'carbon.file line 5: expected 2 columns (time,gPerKwh), found 3',
      'carbon.file line 7: time: the same time as line 2',
      'carbon.file line 8: time: expected an ISO time with a zone, like 2025-09-20T00:00Z',
      'carbon.file line 8: gPerKwh: expected a number ≥ 0',
    ]);
  });

  it.each([
    ['an empty file', ''],
    ['another header', 'start,intensity\n2025-09-20T00:00Z,1\n'],
    ['columns swapped', 'gPerKwh,time\n1,2025-09-20T00:00Z\n'],
  ])('wants the header "time,gPerKwh": %s', (_name, text) => {
    expect(problemsOf(() => parseIntensityCsv(text))).toEqual([
      'carbon.file line 1: expected the header "time,gPerKwh"',
    ]);
  });

  it('reads CRLF line ends, a byte-order mark and spaces around fields', () => {
    expect(parseIntensityCsv('\uFEFFtime, gPerKwh\r\n 2025-09-20T00:00Z , 12.5 \r\n')).toEqual(
      new Map([[at(0), 12.5]]),
    );
  });

  it.each([['Infinity'], ['1e999'], ['NaN'], ['']])('rejects gPerKwh %j', (value) => {
    expect(problemsOf(() => parseIntensityCsv(`time,gPerKwh\n2025-09-20T00:00Z,${value}\n`))).toEqual([
      'carbon.file line 2: gPerKwh: expected a number ≥ 0',
    ]);
  });

  it('fails on load when the file cannot be read', () => {
    const [problem] = problemsOf(() =>
      createCsvIntensitySource({ file: join(FIXTURES, 'no-such.csv'), fallbackGPerKwh: 1 }),
    );
    expect(problem).toMatch(/^carbon\.file: cannot read .*no-such\.csv \(ENOENT/);
  });

  describe('when the file changes', () => {
    let file: string;
    let mtime = new Date('2025-09-20T00:00:00Z');
    async function rewrite(text: string) {
      await fsp.writeFile(file, text);
      // Set the mtime explicitly so the change shows even within the file system's timestamp resolution.
      mtime = new Date(mtime.getTime() + 60_000);
      await fsp.utimes(file, mtime, mtime);
    }

    beforeEach(async () => {
      file = join(await fsp.mkdtemp(join(tmpdir(), 'carbon-csv-')), 'grid.csv');
      await rewrite('time,gPerKwh\n2025-09-20T00:00Z,100\n');
    });
    afterEach(() => fsp.rm(dirname(file), { recursive: true, force: true }));

    it('reads it again', async () => {
      const csv = createCsvIntensitySource({ file, fallbackGPerKwh: 300 });
      expect(await csv.intensities(at(0), at(2))).toEqual(
        new Map([
          [at(0), fromCsv(100)],
          [at(1), fallback],
        ]),
      );

      await rewrite('time,gPerKwh\n2025-09-20T00:00Z,50\n2025-09-20T01:00Z,60\n');

      expect(await csv.intensities(at(0), at(2))).toEqual(
        new Map([
          [at(0), fromCsv(50)],
          [at(1), fromCsv(60)],
        ]),
      );
    });

    it('keeps the values read before when the new file is invalid, and says why', async () => {
      const { log, warnings } = recordingLogger();
      const csv = createCsvIntensitySource({ file, fallbackGPerKwh: 300 }, { log });

      await rewrite('time,gPerKwh\n2025-09-20T00:00Z,-1\n');

      expect(await csv.intensities(at(0), at(1))).toEqual(new Map([[at(0), fromCsv(100)]]));
      expect(warnings).toEqual([
        {
          msg: 'carbon CSV changed but cannot be used; keeping the values read before',
          fields: { file, problems: ['carbon.file line 2: gPerKwh: expected a number ≥ 0'] },
        },
      ]);
    });

    it('keeps the values read before when the file is gone', async () => {
      const { log, warnings } = recordingLogger();
      const csv = createCsvIntensitySource({ file, fallbackGPerKwh: 300 }, { log });

      await fsp.rm(file);

      expect(await csv.intensities(at(0), at(1))).toEqual(new Map([[at(0), fromCsv(100)]]));
      expect(warnings[0].fields?.error).toMatch(/ENOENT/);
    });
  });
});
