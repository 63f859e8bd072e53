/**
 * Who is asking (contract section 7). `admin` and `anonymous` see everything: anonymous access is
 * only ever granted on purpose (`auth.anonymous: true`) or by running without an `auth` section,
 * and either way the operator chose an open service. A `scoped` token sees its projects and users.
 */
export type Principal =
  | { kind: 'admin'; name: string }
  | { kind: 'anonymous' }
  | { kind: 'scoped'; name: string; projects: ReadonlySet<string>; users: ReadonlySet<string> };

/** A request without an identity, where the configuration lets one in. */
export const ANONYMOUS: Principal = { kind: 'anonymous' };

export function seesEverything(principal: Principal): principal is Exclude<Principal, { kind: 'scoped' }> {
  return principal.kind !== 'scoped';
}

/**
 * What a principal may see, as a string: equal for two principals exactly when every answer to one
 * is an answer to the other. Keys cached answers; a token's name, a label, never does.
 */
export function scopeKey(principal: Principal): string {
  if (seesEverything(principal)) return 'all';
  const sorted = (set: ReadonlySet<string>) => [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify({ projects: sorted(principal.projects), users: sorted(principal.users) });
}
