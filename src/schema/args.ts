import { ArgsType, Field, Int } from 'type-graphql';
import type { Level } from '../domain/levels';
import type { Granularity } from '../domain/time';
import { DEFAULT_METRICS_DAYS } from '../services/validation';
import { DateTimeScalar } from './date-time';
import { GranularityEnum, UsageLevel } from './enums';

// Argument classes rather than parameter decorators: parameter decorators register last-first,
// which would print every argument list backwards.

@ArgsType()
export class UsageSeriesArgs {
  @Field(() => UsageLevel) level!: Level;
  @Field() key!: string;
  @Field(() => DateTimeScalar) from!: Date;
  @Field(() => DateTimeScalar) to!: Date;
  @Field(() => GranularityEnum) granularity!: Granularity;
}

@ArgsType()
export class UsageSeriesManyArgs {
  @Field(() => UsageLevel) level!: Level;
  @Field(() => [String]) keys!: string[];
  @Field(() => DateTimeScalar) from!: Date;
  @Field(() => DateTimeScalar) to!: Date;
  @Field(() => GranularityEnum) granularity!: Granularity;
}

@ArgsType()
export class MachineMetricsArgs {
  @Field(() => String, { nullable: true }) machineName?: string | null;
  @Field(() => Int, { nullable: true, defaultValue: DEFAULT_METRICS_DAYS }) days?: number | null;
}

@ArgsType()
export class ActiveWorkspacesArgs {
  @Field(() => String, { nullable: true }) project?: string | null;
  @Field(() => String, { nullable: true }) user?: string | null;
  @Field(() => String, { nullable: true }) machineName?: string | null;
}
