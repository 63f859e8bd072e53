import { z } from 'zod';
import { ConfigError } from '../../config';
import type { Workspace, WorkspaceRegistry } from '../../domain/attribution';
import { readText } from '../../fs/files';

export type { Workspace, WorkspaceRegistry } from '../../domain/attribution';

/** Offsets zod's `offset: true` accepts; a time without one is UTC, like every time here. */
const HAS_OFFSET = /(?:z|[+-]\d{2}:\d{2})$/i;

const isoDateTime = z.iso
  .datetime({ offset: true, local: true, error: 'expected an ISO date-time' })
  .transform((text) => Date.parse(HAS_OFFSET.test(text) ? text : `${text}Z`));

const nullableText = z.string({ error: 'expected a string or null' }).nullable();

/** One record of the registry file; other fields a registry carries (ids, notes) are ignored. */
export const WorkspaceRecordSchema = z
  .object({
    hostname: z.string({ error: 'expected a host name' }).min(1, { error: 'expected a host name' }),
    owner: nullableText,
    experiment: nullableText,
    created_time: isoDateTime,
    deleted_time: isoDateTime.nullable(),
  })
  .refine((record) => record.deleted_time === null || record.deleted_time >= record.created_time, {
    path: ['deleted_time'],
    error: 'expected a time not before created_time',
    // Only once both times parsed: a bad created_time is reported once, as itself.
    when: (payload) => payload.issues.length === 0,
  });
/** A parsed record: times are epoch ms. */
export type WorkspaceRecord = z.infer<typeof WorkspaceRecordSchema>;

const RegistryFileSchema = z.array(WorkspaceRecordSchema, { error: 'expected a JSON array of workspaces' });

/** A long list of problems helps nobody: the first ones show what is wrong. */
const PROBLEMS_SHOWN = 20;

interface Tenancy {
  /** [from, to) in epoch ms; `to` is Infinity while the workspace exists. */
  from: number;
  to: number;
  /** The latest `to` of this tenancy and every earlier one, so a lookup knows when to stop looking back. */
  latestToSoFar: number;
  workspace: Workspace;
}

/**
 * A registry over parsed records, indexed by hostname with each host's tenancies sorted by start,
 * so a lookup is a map get and a binary search. Records of one host should not overlap; where they
 * do, the latest created that holds the hour wins.
 */
export function createWorkspaceRegistry(records: readonly WorkspaceRecord[]): WorkspaceRegistry {
  const byHost = new Map<string, Tenancy[]>();
  for (const record of records) {
    const tenancies = byHost.get(record.hostname) ?? [];
    tenancies.push({
      from: record.created_time,
      to: record.deleted_time ?? Infinity,
      latestToSoFar: 0,
      workspace: { owner: record.owner, experiment: record.experiment, deletedAt: record.deleted_time },
    });
    byHost.set(record.hostname, tenancies);
  }
  for (const tenancies of byHost.values()) {
    tenancies.sort((a, b) => a.from - b.from);
    let latestTo = -Infinity;
    for (const tenancy of tenancies) tenancy.latestToSoFar = latestTo = Math.max(latestTo, tenancy.to);
  }

  return {
    lookup(host, hourStart) {
      const tenancies = byHost.get(host);
      if (tenancies === undefined) return undefined;
      // The last tenancy that starts at or before the hour (created_time is inclusive).
      let low = 0;
      let high = tenancies.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (tenancies[mid].from <= hourStart) low = mid + 1;
        else high = mid;
      }
      for (let i = low - 1; i >= 0 && tenancies[i].latestToSoFar > hourStart; i--) {
        // deleted_time is exclusive.
        if (tenancies[i].to > hourStart) return tenancies[i].workspace;
      }
      return undefined;
    },
  };
}

export const emptyRegistry: WorkspaceRegistry = { lookup: () => undefined };

function problemsOf(error: z.ZodError, file: string): string[] {
  const problems = error.issues.slice(0, PROBLEMS_SHOWN).map((issue) => {
    const where = issue.path
      .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
      .join('');
    return `workspaces.file${where}: ${issue.message} (${file})`;
  });
  if (error.issues.length > PROBLEMS_SHOWN) {
    problems.push(`workspaces.file: ${error.issues.length - PROBLEMS_SHOWN} more problems (${file})`);
  }
  return problems;
}

/**
 * Reads and validates the registry file: a JSON array of
 * `{ hostname, owner, experiment, created_time, deleted_time }`. Throws a `ConfigError` naming the
 * file, the record and the field.
 */
export async function loadWorkspaceRegistry(file: string): Promise<WorkspaceRegistry> {
  let text: string;
  try {
    text = await readText(file);
  } catch (err) {
    throw new ConfigError([`workspaces.file: cannot read ${file} (${(err as Error).message})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`workspaces.file: ${file} is not valid JSON (${(err as Error).message})`]);
  }
  const parsed = RegistryFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error, file));
  return createWorkspaceRegistry(parsed.data);
}
