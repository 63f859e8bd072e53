import { ArgsType, Field, Float, ID, ObjectType } from 'type-graphql';
import type { DailySummaryView } from '../services/daily-summaries';
import type { ResourceFiguresView } from '../services/resource-figures';
import type { UsageFiguresView } from '../services/usage-series';
import { DateTimeScalar } from './date-time';
import { ResourceFigures } from './resources';
import { UsageFigures } from './usage';

@ObjectType({ simpleResolvers: true, description: "SlipStream's instance-type.X unit_minutes." })
export class MachineMinutes {
  @Field({ description: 'The machine type as the MACHINE level keys it.' }) machineName!: string;
  @Field(() => Float, { description: 'Minutes its instances were up (upHours × 60).' }) minutes!: number;
}

@ObjectType({
  simpleResolvers: true,
  description:
    "One user's usage of one UTC day in SlipStream's shape, with its energy and carbon: the sum of " +
    "the day's ok hours of the user's USER series.",
})
export class DailySummary implements DailySummaryView {
  @Field(() => ID, { description: 'User and day.' }) id!: string;
  @Field() user!: string;
  @Field(() => DateTimeScalar, { description: 'Start of the UTC day.' }) date!: number;
  @Field(() => Float, { description: 'Minutes the instances were up (upHours × 60).' }) vmMinutes!: number;
  @Field(() => Float, { description: 'Memory in use, GB × minutes (memoryByteHours / 1e9 × 60).' })
  ramGbMinutes!: number;
  @Field(() => Float, { description: 'Disk in use, GB × minutes (diskByteHours / 1e9 × 60).' })
  diskGbMinutes!: number;
  @Field(() => [MachineMinutes], { description: 'By machine type, sorted by name.' })
  byMachine!: Array<{ machineName: string; minutes: number }>;
  @Field(() => UsageFigures) usage!: UsageFiguresView;
  @Field(() => ResourceFigures) resources!: ResourceFiguresView;
  @Field({ description: 'Every hour of the day ok when it was summarised.' }) complete!: boolean;
}

@ArgsType()
export class DailySummariesArgs {
  @Field() user!: string;
  @Field(() => DateTimeScalar, { description: 'The UTC days overlapping [from, to) are answered.' })
  from!: Date;
  @Field(() => DateTimeScalar) to!: Date;
}
