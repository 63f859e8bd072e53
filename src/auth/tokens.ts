import { createHash, timingSafeEqual } from 'node:crypto';

import type { AuthConfig } from '../config';
import { ANONYMOUS, type Principal } from './principal';

/** SHA-256 of a token, the only form the configuration holds (see `carbonledger token`). */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The token of an `Authorization: Bearer <token>` header (RFC 6750; the scheme is case-insensitive),
 * or undefined when the header is absent or of another scheme.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  return match?.[1];
}

export type Authentication =
  | { ok: true; principal: Principal }
  /** `missing`: no bearer token; `invalid`: a token no configured digest matches. */
  | { ok: false; problem: 'missing' | 'invalid' };

export interface Authenticator {
  /** Who a GraphQL request comes from, or why it is refused (contract section 7). */
  authenticate(authorization: string | undefined): Authentication;
  /** /metrics: open while no token is configured, else any valid token. */
  mayReadMetrics(authorization: string | undefined): boolean;
}

interface KnownToken {
  digest: Buffer;
  principal: Principal;
}

function principalOf(token: NonNullable<AuthConfig['tokens']>[number]): Principal {
  if (token.role === 'admin') return { kind: 'admin', name: token.name };
  return {
    kind: 'scoped',
    name: token.name,
    projects: new Set(token.projects ?? []),
    users: new Set(token.users ?? []),
  };
}

/**
 * Without an `auth` section the API is open. With one, a valid bearer token names the principal,
 * and anything else is refused unless `anonymous` is true.
 */
export function createAuthenticator(auth: AuthConfig | undefined): Authenticator {
  if (!auth) return { authenticate: () => ({ ok: true, principal: ANONYMOUS }), mayReadMetrics: () => true };
  const known: KnownToken[] = auth.tokens.map((token) => ({
    digest: Buffer.from(token.sha256, 'hex'),
    principal: principalOf(token),
  }));

  /**
   * Compares the digest with every configured one, whatever matched first, so the time taken says
   * nothing about which token (or how much of one) matched. Digests are all 32 bytes, as
   * `timingSafeEqual` needs, and comparing digests rather than tokens hides the token's length.
   */
  const principalOfToken = (token: string): Principal | undefined => {
    const digest = hashToken(token);
    let found: Principal | undefined;
    for (const candidate of known) {
      const equal = timingSafeEqual(digest, candidate.digest);
      found = equal && found === undefined ? candidate.principal : found;
    }
    return found;
  };

  return {
    authenticate(authorization) {
      const token = bearerToken(authorization);
      const principal = token === undefined ? undefined : principalOfToken(token);
      if (principal) return { ok: true, principal };
      if (auth.anonymous) return { ok: true, principal: ANONYMOUS };
      return { ok: false, problem: token === undefined ? 'missing' : 'invalid' };
    },
    mayReadMetrics(authorization) {
      if (known.length === 0) return true;
      const token = bearerToken(authorization);
      return token !== undefined && principalOfToken(token) !== undefined;
    },
  };
}
