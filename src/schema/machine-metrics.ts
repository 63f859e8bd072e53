import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import type {
  BusyIdle as BusyIdleView,
  MachineMetricsView,
  Stat as StatView,
} from '../services/machine-metrics';

@ObjectType({ simpleResolvers: true })
export class Stat implements StatView {
  @Field(() => Float) average!: number;
}

@ObjectType({ simpleResolvers: true })
export class BusyIdle implements BusyIdleView {
  @Field(() => Stat) busy!: StatView;
  @Field(() => Stat) idle!: StatView;
}

@ObjectType({
  simpleResolvers: true,
  description:
    'Energy and carbon per instance-hour of one machine type, averaged over the last `days` whole UTC days ' +
    "(today excluded): the machine type's figures over the window divided by its instance-hours.",
})
export class MachineMetrics implements MachineMetricsView {
  @Field(() => ID, { description: 'Machine name and days.' }) id!: string;
  @Field({ description: 'The machine type as the MACHINE level keys it.' }) machineName!: string;
  @Field(() => BusyIdle, { description: 'kWh per instance-hour, averaged over the window.' })
  energyKwh!: BusyIdleView;
  @Field(() => BusyIdle, { description: 'gCO2eq per instance-hour, averaged over the window.' })
  carbonGco2eq!: BusyIdleView;
  @Field(() => Int, { description: 'Instance-hours with data behind the averages.' }) instanceHours!: number;
}
