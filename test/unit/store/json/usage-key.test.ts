import { MAX_ENCODED_KEY_BYTES, usageKey } from '../../../../src/store/json/usage-key';
import { encodeKey } from '../../../../src/store/json/layout';

describe('usageKey', () => {
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
      expect(usageKey(value)).toBe(value);
    }
  });

  it('shortens a key too long once encoded to a storable one, keeping its start and telling long keys apart', () => {
    const long = '研究'.repeat(15); // 30 characters, 270 bytes encoded
    const other = `${'研究'.repeat(14)}研x`;
    const key = usageKey(long);
    expect(encodeURIComponent(key).length).toBeLessThanOrEqual(MAX_ENCODED_KEY_BYTES);
    expect(() => encodeKey(key)).not.toThrow();
    expect(key).toMatch(/^(研究)+研?~[0-9a-f]{16}$/);
    expect(usageKey(long)).toBe(key);
    expect(usageKey(other)).not.toBe(key);
    expect(usageKey(key)).toBe(key);
    const ascii = usageKey('e'.repeat(300));
    expect(ascii).toMatch(/^e{238}~[0-9a-f]{16}$/);
  });

  it('never splits a surrogate pair when it shortens', () => {
    const key = usageKey('😀'.repeat(40)); // 12 bytes each encoded
    expect(() => encodeURIComponent(key)).not.toThrow();
    expect(encodeURIComponent(key).length).toBeLessThanOrEqual(MAX_ENCODED_KEY_BYTES);
  });

  it('replaces a lone surrogate, which cannot be encoded, with U+FFFD', () => {
    expect(usageKey('a\uD800b')).toBe('a\uFFFDb');
    expect(usageKey('\uDC00')).toBe('\uFFFD');
    expect(usageKey('😀')).toBe('😀');
  });
});
