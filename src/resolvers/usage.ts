import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import type { Level } from '../domain/levels';
import { UsageSeriesArgs, UsageSeriesManyArgs } from '../schema/args';
import { UsageLevel } from '../schema/enums';
import { UsageColumns, UsageSeries } from '../schema/usage';
import {
  readUsageSeries,
  readUsageSeriesMany,
  type SeriesDetail,
  toColumns,
  type UsageColumnsView,
  type UsageSeriesView,
} from '../services/usage-series';
import { MAX_KEYS_PER_QUERY, validateKeys, validateRange } from '../services/validation';
import type { AppContext } from './context';
import { mayRead } from './selection';

/**
 * What the operation may read of a series: machines, resources and bucket objects are built only
 * then, and columns asked alone are summed with no bucket objects. Most of a long series' cost.
 */
const detailFor = (info: GraphQLResolveInfo): SeriesDetail => ({
  byMachine: mayRead(info, ['buckets', 'byMachine']),
  resources: mayRead(info, ['buckets', 'resources']),
  buckets: mayRead(info, ['buckets']),
  columns: mayRead(info, ['columns']),
});

@Resolver(() => UsageSeries)
export class UsageSeriesResolver {
  @Query(() => UsageSeries, {
    description:
      'Usage of one key over [from, to). HOUR series span at most 366 days, DAY 5 years, MONTH and YEAR 50. ' +
      'An unknown key is not an error: its buckets are MISSING. At the MACHINE level a machine key ' +
      '(`byMachine.machineKey`) reads the machine type it names, whose name the series answers as its key.',
  })
  async usageSeries(
    @Args() { level, key, ...range }: UsageSeriesArgs,
    @Ctx() { reader, access }: AppContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<UsageSeriesView> {
    const validRange = validateRange(range);
    await access.requireSeries(level, [key]);
    return readUsageSeries(reader, level, key, validRange, detailFor(info));
  }

  @Query(() => [UsageSeries], {
    description: `One series per key, in the order given; at most ${MAX_KEYS_PER_QUERY} keys. Limits as usageSeries.`,
  })
  async usageSeriesMany(
    @Args() { level, keys, ...range }: UsageSeriesManyArgs,
    @Ctx() { reader, access }: AppContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<UsageSeriesView[]> {
    const validRange = validateRange(range);
    const validKeys = validateKeys(keys);
    // All or nothing: silently dropping a key would shift every series after it in the answer.
    await access.requireSeries(level, validKeys);
    return readUsageSeriesMany(reader, level, validKeys, validRange, detailFor(info));
  }

  @Query(() => [String], {
    description: 'Every key the store holds usage for at the level, sorted; only those the token may read.',
  })
  async usageKeys(
    @Arg('level', () => UsageLevel) level: Level,
    @Ctx() { reader, access }: AppContext,
  ): Promise<readonly string[]> {
    return access.visibleKeys(level, (await reader.keys(level)).sorted);
  }

  @FieldResolver(() => UsageColumns, {
    description: 'The buckets as parallel lists: the cheap way to fetch a long hourly series.',
  })
  columns(@Root() series: UsageSeriesView): UsageColumnsView {
    return series.columns ?? toColumns(series.buckets);
  }
}
