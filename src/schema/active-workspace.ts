import { Field, Float, ID, ObjectType } from 'type-graphql';
import type { ActiveWorkspaceView } from '../services/active-workspaces';
import { DateTimeScalar } from './date-time';

@ObjectType({ simpleResolvers: true, description: 'A running instance and its usage since it booted.' })
export class ActiveWorkspace implements ActiveWorkspaceView {
  @Field(() => ID, { description: 'Instance and start.' }) id!: string;
  @Field() instance!: string;
  @Field() host!: string;
  @Field() machineName!: string;
  @Field() project!: string;
  @Field(() => String, { nullable: true }) user!: string | null;
  @Field(() => String, { nullable: true }) experiment!: string | null;
  @Field(() => DateTimeScalar, { description: 'node_boot_time_seconds' }) startedAt!: number;
  @Field(() => Float, { description: 'Since startedAt.' }) busyKwh!: number;
  @Field(() => Float, { description: 'Since startedAt.' }) idleKwh!: number;
  @Field(() => Float, { description: 'Since startedAt.' }) busyGco2eq!: number;
  @Field(() => Float, { description: 'Since startedAt.' }) idleGco2eq!: number;
}
