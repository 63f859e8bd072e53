import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { SummaryEmailSetting } from '../schema/summary-email';
import { setSummaryEmail, type SummaryEmailSettingView } from '../services/summary-email';
import type { AppContext } from './context';

@Resolver()
export class SummaryEmailResolver {
  @Mutation(() => SummaryEmailSetting, {
    description:
      "Emails the token's user their daily summaries at `address` (null removes the address they set; an " +
      "operator's listing in the config stays). A token of one user only: FORBIDDEN otherwise.",
  })
  async setSummaryEmail(
    @Arg('address', () => String, { nullable: true }) address: string | null,
    @Ctx() { principal, subscribers }: AppContext,
  ): Promise<SummaryEmailSettingView> {
    return setSummaryEmail(principal, subscribers, address);
  }
}
