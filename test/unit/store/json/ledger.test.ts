import type { LedgerHour } from '../../../../src/domain/usage';
import { CorruptFileError } from '../../../../src/store/json/errors';
import { ledgerFileText, parseLedgerFile } from '../../../../src/store/json/ledger-file';
import { nextLedgerHour } from '../../../../src/store/rules/ledger';
import { OK_LEDGER_HOUR, at, failedHour, okHour } from '../../../support/describe-store';

describe('nextLedgerHour', () => {
  const attemptedAt = at('2025-09-21T07:05Z');

  it('records a first failure, then counts further ones', () => {
    const first = nextLedgerHour(undefined, failedHour('2025-09-21T06:00Z', 'down'), attemptedAt);
    expect(first).toEqual({
      status: 'failed',
      attempts: 1,
      error: 'down',
      lastAttemptAt: '2025-09-21T07:05:00.000Z',
    });
    expect(nextLedgerHour(first, failedHour('2025-09-21T06:00Z', 'still down'), attemptedAt + 1000)).toEqual({
      status: 'failed',
      attempts: 2,
      error: 'still down',
      lastAttemptAt: '2025-09-21T07:05:01.000Z',
    });
  });

  it('keeps an ok hour ok when it later fails, counting the attempt', () => {
    const once = nextLedgerHour(OK_LEDGER_HOUR, failedHour('2025-09-21T06:00Z', 'a'), attemptedAt);
    expect(nextLedgerHour(once, failedHour('2025-09-21T06:00Z', 'b'), attemptedAt)).toEqual({
      ...OK_LEDGER_HOUR,
      failedAttempts: 2,
      lastError: 'b',
    });
  });

  it('starts afresh on success', () => {
    const failedAfterOk = { ...OK_LEDGER_HOUR, failedAttempts: 2, lastError: 'b' };
    expect(nextLedgerHour(failedAfterOk, okHour('2025-09-21T06:00Z'), attemptedAt)).toEqual(OK_LEDGER_HOUR);
  });
});

describe('ledger file', () => {
  const hours = new Map<number, LedgerHour>([
    [
      at('2025-09-21T04:00Z'),
      { status: 'failed', attempts: 1, error: 'down', lastAttemptAt: '2025-09-21T05:00:00.000Z' },
    ],
    [
      at('2025-09-21T03:00Z'),
      {
        instanceHours: { small: 2, 'Artemis (Matlab)': 1 },
        lastError: 'late',
        failedAttempts: 1,
        intensity: { source: 'carbon-intensity-api', estimated: true, gPerKwh: 181.5 },
        status: 'ok',
      },
    ],
  ]);

  it('is keyed by ISO hour in time order, with fields in a fixed order', () => {
    expect(ledgerFileText(hours)).toBe(
      JSON.stringify(
        {
          '2025-09-21T03:00:00.000Z': {
            status: 'ok',
            intensity: { gPerKwh: 181.5, estimated: true, source: 'carbon-intensity-api' },
            instanceHours: { 'Artemis (Matlab)': 1, small: 2 },
            failedAttempts: 1,
            lastError: 'late',
          },
          '2025-09-21T04:00:00.000Z': {
            status: 'failed',
            attempts: 1,
            error: 'down',
            lastAttemptAt: '2025-09-21T05:00:00.000Z',
          },
        },
        null,
        2,
      ) + '\n',
    );
  });

  it('reads back keyed by epoch ms', () => {
    expect(parseLedgerFile(ledgerFileText(hours), '/l.json')).toEqual(hours);
  });

  it.each([
    ['{', 'not valid JSON'],
    ['{"yesterday": {"status": "ok"}}', '"yesterday" is not an ISO hour'],
    [
      '{"2025-09-21T03:00:00.000Z": {"status": "maybe"}}',
      '2025-09-21T03:00:00.000Z.status is neither "ok" nor "failed"',
    ],
    [
      '{"2025-09-21T03:00:00.000Z": {"status": "failed"}}',
      '2025-09-21T03:00:00.000Z.attempts is not a number',
    ],
  ])('names the file when %s cannot be read', (text, reason) => {
    expect(() => parseLedgerFile(text, '/l.json')).toThrow(CorruptFileError);
    expect(() => parseLedgerFile(text, '/l.json')).toThrow(`Corrupt store file /l.json: ${reason}`);
  });
});
