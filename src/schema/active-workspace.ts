import { Field, Float, ID, ObjectType } from 'type-graphql';
import type {
  ActiveWorkspacesStatus as ActiveWorkspacesStatusView,
  ActiveWorkspaceView,
} from '../services/active-workspaces';
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

@ObjectType({ simpleResolvers: true, description: 'How current `activeWorkspaces` is.' })
export class ActiveWorkspacesStatus implements ActiveWorkspacesStatusView {
  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'When Prometheus was polled for the workspaces listed; null before any poll succeeded.',
  })
  takenAt!: number | null;
  @Field({ description: 'The last poll of Prometheus failed.' }) lastPollFailed!: boolean;
  @Field({
    description:
      'The list may not be what runs now: no poll has succeeded, or the last failed and the list is over ' +
      'five minutes old. An empty list is then "unknown", not "nothing runs".',
  })
  stale!: boolean;
}
