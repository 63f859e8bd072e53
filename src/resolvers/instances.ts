import { Args, Ctx, Query, Resolver } from 'type-graphql';
import { InstanceRecord, InstancesArgs } from '../schema/instances';
import { type InstanceRecordView, readInstances } from '../services/instances';
import { validateRange } from '../services/validation';
import type { AppContext } from './context';

@Resolver()
export class InstancesResolver {
  @Query(() => [InstanceRecord], {
    description:
      'Instances up at any time in [from, to) (at most 50 years), with their figures over it, sorted by ' +
      'instance and first hour seen. A scoped token sees the instances whose INSTANCE series it may read.',
  })
  async instances(
    @Args() { project, user, from, to }: InstancesArgs,
    @Ctx() { reader, access, instances, hostHistory }: AppContext,
  ): Promise<InstanceRecordView[]> {
    const range = validateRange({ from, to, granularity: 'YEAR' });
    return readInstances(
      instances,
      reader,
      access,
      { project: project ?? null, user: user ?? null, from: range.from, to: range.to },
      hostHistory,
    );
  }
}
