import { Args, Ctx, Query, Resolver } from 'type-graphql';
import { ActiveWorkspace, ActiveWorkspacesStatus } from '../schema/active-workspace';
import { ActiveWorkspacesArgs } from '../schema/args';
import {
  type ActiveWorkspacesStatus as ActiveWorkspacesStatusView,
  type ActiveWorkspaceView,
  readActiveWorkspaces,
} from '../services/active-workspaces';
import type { AppContext } from './context';

@Resolver()
export class ActiveWorkspacesResolver {
  @Query(() => [ActiveWorkspace], {
    description:
      'Running instances matching every filter given; `machineName` as labelled or its machine key. ' +
      "A scoped token sees its projects' workspaces and those its users hold.",
  })
  activeWorkspaces(
    @Args() { project, user, machineName }: ActiveWorkspacesArgs,
    @Ctx() { activeWorkspaces, access }: AppContext,
  ): Promise<ActiveWorkspaceView[]> {
    return readActiveWorkspaces(access.visibleWorkspaces(activeWorkspaces), {
      project: project ?? null,
      user: user ?? null,
      machineName: machineName ?? null,
    });
  }

  @Query(() => ActiveWorkspacesStatus, {
    description:
      'Whether `activeWorkspaces` is current: when Prometheus was last polled for it, and if it failed.',
  })
  async activeWorkspacesStatus(@Ctx() { activeWorkspaces }: AppContext): Promise<ActiveWorkspacesStatusView> {
    // Through list() first: it starts, or waits for, the poll a read is due (the first one; under
    // --no-schedule one a minute), so the status asked beside activeWorkspaces is of its answer.
    await activeWorkspaces.list();
    return activeWorkspaces.status();
  }
}
