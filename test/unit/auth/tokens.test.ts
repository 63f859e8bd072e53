import crypto, { createHash } from 'node:crypto';

import { ANONYMOUS } from '../../../src/auth/principal';
import { bearerToken, createAuthenticator, hashToken } from '../../../src/auth/tokens';
import type { AuthConfig } from '../../../src/config';

const digest = (token: string) => hashToken(token).toString('hex');

const AUTH: AuthConfig = {
  anonymous: false,
  tokens: [
    { name: 'ops', sha256: digest('ops-secret'), role: 'admin' },
    { name: 'isis', sha256: digest('isis-secret'), projects: ['ISIS', 'IDAaaS'] },
    { name: 'alice', sha256: digest('alice-secret'), users: ['alice'] },
    { name: 'nobody', sha256: digest('nobody-secret') },
  ],
};

describe('hashToken', () => {
  it('is the SHA-256 the token command writes into the config', () => {
    expect(digest('abc')).toBe(createHash('sha256').update('abc').digest('hex'));
    expect(digest('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.DEF_-~+/=', 'abc.DEF_-~+/='],
    ['bearer abc', 'abc'],
    ['BEARER   abc  ', 'abc'],
  ])('reads %p', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([undefined, '', 'Bearer', 'Bearer ', 'Basic abc', 'Bearer a b', 'Bearerabc'])(
    'finds no bearer token in %p',
    (header) => {
      expect(bearerToken(header)).toBeUndefined();
    },
  );
});

describe('createAuthenticator', () => {
  const authenticator = createAuthenticator(AUTH);
  const bearer = (token: string) => `Bearer ${token}`;

  it('names the principal of each configured token', () => {
    expect(authenticator.authenticate(bearer('ops-secret'))).toEqual({
      ok: true,
      principal: { kind: 'admin', name: 'ops' },
    });
    expect(authenticator.authenticate(bearer('isis-secret'))).toEqual({
      ok: true,
      principal: { kind: 'scoped', name: 'isis', projects: new Set(['ISIS', 'IDAaaS']), users: new Set() },
    });
    expect(authenticator.authenticate(bearer('alice-secret'))).toEqual({
      ok: true,
      principal: { kind: 'scoped', name: 'alice', projects: new Set(), users: new Set(['alice']) },
    });
    // A token with neither role nor scope authenticates, and sees nothing.
    expect(authenticator.authenticate(bearer('nobody-secret'))).toEqual({
      ok: true,
      principal: { kind: 'scoped', name: 'nobody', projects: new Set(), users: new Set() },
    });
  });

  it('refuses a missing token and an unknown one, telling which', () => {
    expect(authenticator.authenticate(undefined)).toEqual({ ok: false, problem: 'missing' });
    expect(authenticator.authenticate('Basic b3Bz')).toEqual({ ok: false, problem: 'missing' });
    expect(authenticator.authenticate(bearer('ops-secreT'))).toEqual({ ok: false, problem: 'invalid' });
    expect(authenticator.authenticate(bearer(digest('ops-secret')))).toEqual({
      ok: false,
      problem: 'invalid',
    });
  });

  it('compares against every configured digest in constant time, whichever matches', () => {
    const compare = jest.spyOn(crypto, 'timingSafeEqual');
    try {
      for (const token of ['ops-secret', 'nobody-secret', 'unknown']) {
        compare.mockClear();
        authenticator.authenticate(bearer(token));
        expect(compare).toHaveBeenCalledTimes(AUTH.tokens.length);
        for (const [given, configured] of compare.mock.calls) {
          expect(given).toHaveLength(32);
          expect(configured).toHaveLength(32);
        }
      }
    } finally {
      compare.mockRestore();
    }
  });

  it('lets anyone in as anonymous when anonymous access is said, a valid token still naming its principal', () => {
    const open = createAuthenticator({ ...AUTH, anonymous: true });
    expect(open.authenticate(undefined)).toEqual({ ok: true, principal: ANONYMOUS });
    expect(open.authenticate(bearer('unknown'))).toEqual({ ok: true, principal: ANONYMOUS });
    expect(open.authenticate(bearer('alice-secret'))).toMatchObject({
      ok: true,
      principal: { name: 'alice' },
    });
  });

  it('is open without an auth section', () => {
    const open = createAuthenticator(undefined);
    expect(open.authenticate(undefined)).toEqual({ ok: true, principal: ANONYMOUS });
    expect(open.authenticate(bearer('anything'))).toEqual({ ok: true, principal: ANONYMOUS });
    expect(open.mayReadMetrics(undefined)).toBe(true);
  });

  it('lets any valid token read /metrics once tokens exist, and anyone while none does', () => {
    expect(authenticator.mayReadMetrics(undefined)).toBe(false);
    expect(authenticator.mayReadMetrics(bearer('unknown'))).toBe(false);
    expect(authenticator.mayReadMetrics(bearer('alice-secret'))).toBe(true);
    expect(createAuthenticator({ ...AUTH, anonymous: true }).mayReadMetrics(undefined)).toBe(false);
    expect(createAuthenticator({ anonymous: false, tokens: [] }).mayReadMetrics(undefined)).toBe(true);
  });
});
