import { ArgsType, Field, Float, ID, ObjectType } from 'type-graphql';
import type { HostPeriod as HostPeriodView } from '../domain/instances';
import type { InstanceRecordView } from '../services/instances';
import type { ResourceFiguresView } from '../services/resource-figures';
import type { UsageFiguresView } from '../services/usage-series';
import { ResourceFigures } from './resources';
import { DateTimeScalar } from './date-time';
import { UsageFigures } from './usage';

@ObjectType({
  simpleResolvers: true,
  description:
    "A stretch of an instance on one host: one OpenNebula register (to the second), or, for a source that keeps no register, the instance's hours on the host.",
})
export class HostPeriod implements HostPeriodView {
  @Field() host!: string;
  @Field(() => DateTimeScalar, {
    description:
      "When it started running on the host (the register's start), or the start of its first hour there.",
  })
  from!: number;
  @Field(() => DateTimeScalar, {
    nullable: true,
    description:
      'When it stopped running there, or the end of its last hour there; null while the instance is still there.',
  })
  to!: number | null;
  @Field(() => String, { nullable: true, description: "OpenNebula's register reason, when known." })
  reason!: string | null;
}

@ObjectType({
  simpleResolvers: true,
  description:
    'One instance and its life: one `instance` label under one project, machine type and owner (a host ' +
    'reused by another owner is another record). Figures are over the range asked.',
})
export class InstanceRecord implements InstanceRecordView {
  @Field(() => ID, { description: 'Instance, project, machine type and owner.' }) id!: string;
  @Field() instance!: string;
  @Field() project!: string;
  @Field({ description: 'As labelled.' }) machineName!: string;
  @Field(() => String, { nullable: true, description: 'Null where the owner is unknown.' }) user!:
    string | null;
  @Field(() => String, {
    nullable: true,
    description:
      'Null where the experiment is unknown: its EXPERIMENT key `unknown` (every OpenNebula VM, or no label or registry record).',
  })
  experiment!: string | null;
  @Field(() => DateTimeScalar, { description: 'Start of the first hour with samples.' }) firstSeen!: number;
  @Field(() => DateTimeScalar, { description: 'Start of the last hour with samples.' }) lastSeen!: number;
  @Field({
    description:
      'No samples for 24 h up to the newest ingested hour, or its workspace deleted in the registry by then.',
  })
  ended!: boolean;
  @Field(() => [HostPeriod], { description: 'In order of time.' }) hosts!: HostPeriodView[];
  @Field(() => Float, {
    description: 'Hours it was up in [from, to) (fractional for a start or stop mid-hour).',
  })
  upHours!: number;
  @Field(() => UsageFigures, { description: 'Over the hours of [from, to) it had samples in.' })
  usage!: UsageFiguresView;
  @Field(() => ResourceFigures, { description: 'Memory, disk and network over the same hours.' })
  resources!: ResourceFiguresView;
}

@ArgsType()
export class InstancesArgs {
  @Field(() => String, { nullable: true }) project?: string | null;
  @Field(() => String, { nullable: true }) user?: string | null;
  @Field(() => DateTimeScalar) from!: Date;
  @Field(() => DateTimeScalar) to!: Date;
}
