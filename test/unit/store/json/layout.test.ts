import { InvalidKeyError } from '../../../../src/store/json/errors';
import {
  JsonLayout,
  checkedDate,
  checkedMonth,
  decodeKey,
  encodeKey,
  isStorableKey,
} from '../../../../src/store/json/layout';

describe('encodeKey', () => {
  it.each([
    ['IDAaaS', 'IDAaaS'],
    ['host-1.example.org:9100', 'host-1.example.org%3A9100'],
    ['../../etc', '..%2F..%2Fetc'],
    ['..', '%2E%2E'],
    ['.', '%2E'],
    ['...', '...'],
    ['a/b', 'a%2Fb'],
    ['Zürich', 'Z%C3%BCrich'],
    ['%41', '%2541'],
    ['A', 'A'],
    ['%2E', '%252E'],
  ])('encodes %j as %j and decodes it back', (key, name) => {
    expect(encodeKey(key)).toBe(name);
    expect(decodeKey(name)).toBe(key);
  });

  it('rejects keys that cannot name a directory', () => {
    expect(() => encodeKey('')).toThrow(new InvalidKeyError('A usage key must not be empty'));
    expect(() => encodeKey('\uD800')).toThrow(InvalidKeyError);
    expect(() => encodeKey('x'.repeat(256))).toThrow(InvalidKeyError);
    expect(() => encodeKey('é'.repeat(43))).toThrow(InvalidKeyError);
    expect(encodeKey('x'.repeat(255))).toHaveLength(255);
    expect(isStorableKey('')).toBe(false);
    expect(isStorableKey('alpha')).toBe(true);
  });

  it('decodes only names it would have written', () => {
    expect(decodeKey('.')).toBeNull();
    expect(decodeKey('..')).toBeNull();
    expect(decodeKey('%2e')).toBeNull();
    expect(decodeKey('%ZZ')).toBeNull();
    expect(decodeKey('a/b')).toBeNull();
  });
});

describe('periods', () => {
  it('accepts real UTC dates and months only', () => {
    expect(checkedDate('2024-02-29')).toBe('2024-02-29');
    expect(checkedMonth('2024-02')).toBe('2024-02');
    expect(() => checkedDate('2025-02-29')).toThrow('Expected a UTC date YYYY-MM-DD, got "2025-02-29"');
    expect(() => checkedDate('2025-9-1')).toThrow('Expected a UTC date YYYY-MM-DD');
    expect(() => checkedDate('../2025-09-01')).toThrow('Expected a UTC date YYYY-MM-DD');
    expect(() => checkedMonth('2025-00')).toThrow('Expected a UTC month YYYY-MM');
  });
});

describe('JsonLayout', () => {
  const layout = new JsonLayout('/data');

  it('places day entries, roll-ups, the ledger and the journal', () => {
    expect(layout.dayFile('PROJECT', 'IDAaaS', '2025-09-21')).toBe(
      '/data/usage/project/IDAaaS/2025/2025-09-21.json',
    );
    expect(layout.monthFile('USER', 'a/b', '2025-09')).toBe('/data/usage/user/a%2Fb/2025/2025-09.month.json');
    expect(layout.yearFile('INSTANCE', 'h:1', '2025')).toBe('/data/usage/instance/h%3A1/2025.year.json');
    expect(layout.ledgerFile('2025-09')).toBe('/data/ledger/2025/2025-09.json');
    expect(layout.journalFile).toBe('/data/journal.json');
  });

  it('refuses a level it does not know', () => {
    expect(() => layout.levelDir('../..' as never)).toThrow('Unknown level "../.."');
  });
});
