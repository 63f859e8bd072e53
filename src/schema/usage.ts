import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import type { Level } from '../domain/levels';
import type { Granularity } from '../domain/time';
import type {
  BucketStatus,
  MachineUsageView,
  UsageBucketView,
  UsageColumnsView,
  UsageFiguresView,
  UsageSeriesView,
} from '../services/usage-series';
import type { ResourceFiguresView } from '../services/resource-figures';
import { DateTimeScalar } from './date-time';
import { BucketStatusEnum, GranularityEnum, UsageLevel } from './enums';
import { ResourceFigures } from './resources';

// Field resolvers are plain property reads (`simpleResolvers`): a year of hourly buckets is
// 8,760 objects, and type-graphql's per-field middleware wrapper would run for each of their fields.

@ObjectType({ simpleResolvers: true, description: 'CPU time, energy and carbon, split busy and idle.' })
export class UsageFigures implements UsageFiguresView {
  @Field(() => Float) busyCpuSeconds!: number;
  @Field(() => Float) idleCpuSeconds!: number;
  @Field(() => Float) busyKwh!: number;
  @Field(() => Float) idleKwh!: number;
  @Field(() => Float) busyGco2eq!: number;
  @Field(() => Float) idleGco2eq!: number;
  @Field(() => Float, { description: 'busyKwh + idleKwh' }) totalKwh!: number;
  @Field(() => Float, { description: 'busyGco2eq + idleGco2eq' }) totalGco2eq!: number;
}

@ObjectType({ simpleResolvers: true })
export class MachineUsage implements MachineUsageView {
  @Field({
    description: 'The machine type as labelled, e.g. `Artemis (Matlab)`: the key of its MACHINE series.',
  })
  machineName!: string;
  @Field({
    description: 'The per-machine key of the stored day entry, e.g. `ARTEMIS_MATLAB` for `Artemis (Matlab)`.',
  })
  machineKey!: string;
  @Field(() => UsageFigures) usage!: UsageFiguresView;
}

@ObjectType({
  simpleResolvers: true,
  description:
    "One UTC bucket. Its figures and status count the bucket's hours that overlap the series' [from, to) " +
    '(`from` floored and `to` ceiled to whole hours): [countedFrom, countedTo). So the first and last ' +
    "buckets may count only part of themselves, and the buckets' usage sums to the series' total.",
})
export class UsageBucket implements UsageBucketView {
  @Field(() => ID, {
    description:
      'Level, key, granularity and start; a bucket counting only part of itself also names those hours.',
  })
  id!: string;
  @Field(() => DateTimeScalar, { description: "The bucket's full UTC start." }) start!: number;
  @Field(() => DateTimeScalar, { description: "The bucket's full UTC end (exclusive)." }) end!: number;
  @Field(() => DateTimeScalar, { description: 'Start of the hours counted.' }) countedFrom!: number;
  @Field(() => DateTimeScalar, { description: 'End of the hours counted (exclusive).' }) countedTo!: number;
  @Field(() => BucketStatusEnum, {
    description:
      'From the ledger over the counted hours. OK: every hour ok; FAILED: none ok, some failed; ' +
      'MISSING: no hour ingested at all (or a key the store has never held); PARTIAL: anything else.',
  })
  status!: BucketStatus;
  @Field(() => Int, { description: 'Counted hours whose ingestion failed.' }) failedHours!: number;
  @Field(() => UsageFigures, {
    nullable: true,
    description: 'Sum over the counted ok hours (zeros where the key had no usage); null when no hour is ok.',
  })
  usage!: UsageFiguresView | null;
  @Field(() => ResourceFigures, {
    nullable: true,
    description: 'Resources over the counted ok hours; null exactly when usage is null.',
  })
  resources!: ResourceFiguresView | null;
  @Field(() => [MachineUsage], { description: 'The usage by machine type, sorted by machineName.' })
  byMachine!: MachineUsageView[];
}

@ObjectType({
  simpleResolvers: true,
  description:
    'The buckets as parallel lists, one entry per bucket in order: the same figures as `buckets`, far ' +
    'cheaper to fetch for long hourly series. A figure is null where the bucket has no usage.',
})
export class UsageColumns implements UsageColumnsView {
  @Field(() => [DateTimeScalar]) start!: number[];
  @Field(() => [DateTimeScalar]) end!: number[];
  @Field(() => [BucketStatusEnum]) status!: BucketStatus[];
  @Field(() => [Int]) failedHours!: number[];
  @Field(() => [Float], { nullable: 'items' }) busyCpuSeconds!: Array<number | null>;
  @Field(() => [Float], { nullable: 'items' }) idleCpuSeconds!: Array<number | null>;
  @Field(() => [Float], { nullable: 'items' }) busyKwh!: Array<number | null>;
  @Field(() => [Float], { nullable: 'items' }) idleKwh!: Array<number | null>;
  @Field(() => [Float], { nullable: 'items' }) busyGco2eq!: Array<number | null>;
  @Field(() => [Float], { nullable: 'items' }) idleGco2eq!: Array<number | null>;
  @Field(() => [Float], { nullable: 'items' }) totalKwh!: Array<number | null>;
  @Field(() => [Float], { nullable: 'items' }) totalGco2eq!: Array<number | null>;
}

@ObjectType({ simpleResolvers: true, description: 'Usage of one key over [from, to), bucketed in UTC.' })
export class UsageSeries implements UsageSeriesView {
  @Field(() => ID, { description: 'Level, key, granularity, from and to.' }) id!: string;
  @Field(() => UsageLevel) level!: Level;
  @Field() key!: string;
  @Field(() => GranularityEnum) granularity!: Granularity;
  @Field(() => DateTimeScalar, { description: 'As asked.' }) from!: number;
  @Field(() => DateTimeScalar, { description: 'As asked (exclusive).' }) to!: number;
  @Field(() => [UsageBucket], {
    description: 'Every UTC bucket that overlaps [from, to), in order, none skipped.',
  })
  buckets!: UsageBucketView[];
  @Field(() => UsageFigures, { description: 'Sum over the ok hours in [from, to); zeros when none.' })
  total!: UsageFiguresView;
  @Field(() => ResourceFigures, {
    description: 'Resources over the ok hours in [from, to); zeros when none.',
  })
  resourcesTotal!: ResourceFiguresView;
}
