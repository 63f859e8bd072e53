import { redactCredentials, redactSecret } from '../../../src/domain/redact';

describe('redaction', () => {
  it('replaces a secret in any case, and takes its characters literally', () => {
    expect(redactSecret('tok a.b+c? / A.B+C? / a.B+c?', 'a.b+c?')).toBe('tok *** / *** / ***');
    expect(redactSecret('axbxc', 'a.b')).toBe('axbxc');
    expect(redactSecret('nothing to hide', '')).toBe('nothing to hide');
  });

  it('hides the password of a URL', () => {
    expect(redactCredentials('connect mysql://root:pw@db failed')).toBe('connect mysql://root:***@db failed');
  });
});
