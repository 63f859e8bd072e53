import { Args, Ctx, Query, Resolver } from 'type-graphql';
import { DailySummariesArgs, DailySummary } from '../schema/daily-summaries';
import { type DailySummaryView, readDailySummaries } from '../services/daily-summaries';
import { validateRange } from '../services/validation';
import type { AppContext } from './context';

@Resolver()
export class DailySummariesResolver {
  @Query(() => [DailySummary], {
    description:
      "The user's daily summaries of the UTC days overlapping [from, to) (at most 5 years), in date " +
      'order; a day not summarised (yet) is absent. Readable by the tokens that may read the USER series.',
  })
  async dailySummaries(
    @Args() { user, from, to }: DailySummariesArgs,
    @Ctx() { summaries, access }: AppContext,
  ): Promise<DailySummaryView[]> {
    const range = validateRange({ from, to, granularity: 'DAY' });
    return readDailySummaries(summaries, access, user, range);
  }
}
