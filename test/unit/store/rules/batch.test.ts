import type { LedgerHour } from '../../../../src/domain/usage';
import { planBatch, validateBatch } from '../../../../src/store/rules/batch';
import { InvalidBatchError } from '../../../../src/store/store';
import {
  OK_LEDGER_HOUR,
  at,
  batch,
  failedHour,
  figures,
  okHour,
  usage,
} from '../../../support/describe-store';

describe('planBatch', () => {
  const previouslyFailed: LedgerHour = {
    status: 'failed',
    attempts: 1,
    error: 'down',
    lastAttemptAt: '2025-09-21T06:00:00.000Z',
  };
  const ledgerBefore = new Map([
    [
      '2025-09',
      new Map<number, LedgerHour>([
        [at('2025-09-21T01:00Z'), OK_LEDGER_HOUR],
        [at('2025-09-21T05:00Z'), previouslyFailed],
        [at('2025-09-21T06:00Z'), OK_LEDGER_HOUR],
      ]),
    ],
  ]);

  it('replaces ok hours, marks failed ones, and keeps hours the ledger holds as ok', () => {
    const plan = planBatch(
      [
        failedHour('2025-09-21T06:00Z', 'late'),
        okHour('2025-09-21T03:00Z'),
        failedHour('2025-09-21T05:00Z', 'again'),
        failedHour('2025-10-01T00:00Z', 'first'),
      ],
      ledgerBefore,
      at('2025-10-01T01:00Z'),
    );
    expect(plan.days).toEqual(
      new Map([
        ['2025-09-21', { replace: ['03:00'], markFailed: ['05:00'] }],
        ['2025-10-01', { replace: [], markFailed: ['00:00'] }],
      ]),
    );
    expect(plan.ledger).toEqual(
      new Map([
        [
          '2025-09',
          new Map<number, LedgerHour>([
            [at('2025-09-21T01:00Z'), OK_LEDGER_HOUR],
            [at('2025-09-21T03:00Z'), OK_LEDGER_HOUR],
            [
              at('2025-09-21T05:00Z'),
              { status: 'failed', attempts: 2, error: 'again', lastAttemptAt: '2025-10-01T01:00:00.000Z' },
            ],
            [at('2025-09-21T06:00Z'), { ...OK_LEDGER_HOUR, failedAttempts: 1, lastError: 'late' }],
          ]),
        ],
        [
          '2025-10',
          new Map<number, LedgerHour>([
            [
              at('2025-10-01T00:00Z'),
              { status: 'failed', attempts: 1, error: 'first', lastAttemptAt: '2025-10-01T01:00:00.000Z' },
            ],
          ]),
        ],
      ]),
    );
    expect(ledgerBefore.get('2025-09')!.size).toBe(3);
  });
});

describe('validateBatch', () => {
  const day = { level: 'PROJECT', key: 'alpha', date: '2025-09-21' } as const;

  it('accepts entries for ok hours of the batch', () => {
    expect(() =>
      validateBatch(
        batch([okHour('2025-09-21T03:00Z')], [{ ...day, hours: { '03:00': usage(1) }, totals: usage(1) }]),
      ),
    ).not.toThrow();
  });

  it.each([
    ['an hour that is not whole', batch([okHour('2025-09-21T03:30Z')], []), 'is not the start of a UTC hour'],
    [
      'an hour twice',
      batch([okHour('2025-09-21T03:00Z'), failedHour('2025-09-21T03:00Z', 'x')], []),
      'appears twice',
    ],
    [
      'figures for a failed hour',
      batch(
        [failedHour('2025-09-21T03:00Z', 'x')],
        [{ ...day, hours: { '03:00': usage(1) }, totals: usage(1) }],
      ),
      'hour 03:00 is not an ok hour of this batch',
    ],
    [
      'figures for an hour outside the batch',
      batch([okHour('2025-09-21T03:00Z')], [{ ...day, hours: { '04:00': usage(1) }, totals: usage(1) }]),
      'hour 04:00 is not an ok hour of this batch',
    ],
    [
      'a failed marker',
      batch([okHour('2025-09-21T03:00Z')], [{ ...day, hours: { '03:00': 'failed' }, totals: usage(0) }]),
      'hour 03:00 is marked failed',
    ],
    [
      'a date that does not exist',
      batch([], [{ ...day, date: '2025-02-30', hours: {}, totals: usage(0) }]),
      'date is not YYYY-MM-DD',
    ],
    [
      'an entry twice',
      batch(
        [],
        [
          { ...day, hours: {}, totals: usage(0) },
          { ...day, hours: {}, totals: usage(0) },
        ],
      ),
      'appears twice',
    ],
    [
      'a figure JSON cannot hold',
      batch(
        [okHour('2025-09-21T03:00Z')],
        [
          {
            ...day,
            hours: { '03:00': { all: { ...figures(1), busyKwh: NaN }, byMachine: {} } },
            totals: usage(0),
          },
        ],
      ),
      '03:00.all.busyKwh is not a finite number',
    ],
  ])('rejects %s', (_, invalid, message) => {
    expect(() => validateBatch(invalid)).toThrow(InvalidBatchError);
    expect(() => validateBatch(invalid)).toThrow(message);
  });
});
