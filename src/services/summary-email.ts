import type { Principal } from '../auth/principal';
import { emailAddressProblem } from '../domain/email-address';
import { BadInputError, ForbiddenError } from '../errors';
import type { SummarySubscribers } from '../store/summaries';

export interface SummaryEmailSettingView {
  user: string;
  address: string | null;
}

/**
 * `setSummaryEmail` (contract section 11): a user lists themself for summary emails, or stops
 * (null). Only a token of exactly one user may, and only for that user: an admin or project token
 * has no "self" to list.
 */
export async function setSummaryEmail(
  principal: Principal,
  subscribers: Pick<SummarySubscribers, 'set'>,
  address: string | null,
): Promise<SummaryEmailSettingView> {
  if (principal.kind !== 'scoped' || principal.users.size !== 1) {
    const who = principal.kind === 'anonymous' ? 'an anonymous request' : `token "${principal.name}"`;
    throw new ForbiddenError(
      `setSummaryEmail needs the token of one user (auth.tokens[].users with one user), not ${who}`,
    );
  }
  if (address !== null) {
    const problem = emailAddressProblem(address);
    if (problem !== null) throw new BadInputError(`Argument "address": ${problem}`, 'address');
  }
  const [user] = principal.users;
  await subscribers.set(user, address);
  return { user, address };
}
