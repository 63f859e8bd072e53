import { MAX_ENCODED_KEY_BYTES, storedKey } from '../../../../src/store/rules/keys';
import { encodeKey } from '../../../../src/store/json/layout';

describe('storedKey', () => {
  it('is the value itself for every key the store can name a directory after', () => {
    for (const value of [
      'IDAaaS',
      'unknown',
      'a b/c',
      '研究',
      '.',
      '..',
      'x'.repeat(MAX_ENCODED_KEY_BYTES),
    ]) {
      expect(storedKey(value)).toBe(value);
    }
  });

  it('shortens a key too long once encoded to a storable one, keeping its start and telling long keys apart', () => {
    const long = '研究'.repeat(15); // 30 characters, 270 bytes encoded
    const other = `${'研究'.repeat(14)}研x`;
    const key = storedKey(long);
    expect(encodeURIComponent(key).length).toBeLessThanOrEqual(MAX_ENCODED_KEY_BYTES);
    expect(() => encodeKey(key)).not.toThrow();
    expect(key).toMatch(/^(研究)+研?~[0-9a-f]{16}$/);
    expect(storedKey(long)).toBe(key);
    expect(storedKey(other)).not.toBe(key);
    expect(storedKey(key)).toBe(key);
    const ascii = storedKey('e'.repeat(300));
    expect(ascii).toMatch(/^e{238}~[0-9a-f]{16}$/);
  });

  it('never splits a surrogate pair when it shortens', () => {
    const key = storedKey('😀'.repeat(40)); // 12 bytes each encoded
    expect(() => encodeURIComponent(key)).not.toThrow();
    expect(encodeURIComponent(key).length).toBeLessThanOrEqual(MAX_ENCODED_KEY_BYTES);
  });

  it('replaces a lone surrogate, which cannot be encoded, with U+FFFD', () => {
    expect(storedKey('a\uD800b')).toBe('a\uFFFDb');
    expect(storedKey('\uDC00')).toBe('\uFFFD');
    expect(storedKey('😀')).toBe('😀');
  });
});
