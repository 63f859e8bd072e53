import { statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { type InstanceLife, type InstanceObservation, lifeIdentity, upDuring } from '../../domain/instances';
import { readTextIfExists, writeFileAtomic } from '../../fs/files';
import {
  dropUnobservedHours,
  type InstanceIndex,
  type InstanceIndexView,
  mergeObservations,
} from '../instance-index';

const LifeSchema = z.object({
  instance: z.string(),
  project: z.string(),
  machineName: z.string(),
  user: z.string(),
  experiment: z.string(),
  spans: z.array(z.object({ host: z.string(), from: z.number(), to: z.number() })).min(1),
  deletedAt: z.number().nullable(),
});
const IndexFileSchema = z.object({ throughHour: z.number().nullable(), lives: z.array(LifeSchema) });
type IndexFile = z.infer<typeof IndexFileSchema>;

/**
 * The instance index as one file, `<dataDir>/index/instances.json`: a fleet of thousands of
 * instances is a few hundred kilobytes, read once and kept while the file does not change.
 * Writers are serialised in this process; across processes the ingest lock keeps one writer.
 */
export class JsonInstanceIndex implements InstanceIndex {
  private readonly file: string;
  private writing: Promise<unknown> = Promise.resolve();
  private cached: { stamp: string; index: IndexFile } | undefined;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'index', 'instances.json');
  }

  record(
    observations: readonly InstanceObservation[],
    newestOkHour: number | null,
    replacedHours: readonly number[] = [],
  ): Promise<void> {
    const work = this.writing.then(async () => {
      const current = await this.read();
      const lives = new Map(current.lives.map((life) => [lifeIdentity(life), life]));
      mergeObservations(lives, observations);
      dropUnobservedHours(lives, observations, replacedHours);
      const throughHour =
        newestOkHour === null
          ? current.throughHour
          : Math.max(current.throughHour ?? -Infinity, newestOkHour);
      const next: IndexFile = { throughHour, lives: sortLives([...lives.values()]).map(inFieldOrder) };
      const text = JSON.stringify(next);
      if (text !== JSON.stringify(current)) await writeFileAtomic(this.file, text);
    });
    this.writing = work.catch(() => undefined);
    return work;
  }

  async list(from: number, to: number): Promise<InstanceIndexView> {
    const index = await this.read();
    return { throughHour: index.throughHour, lives: index.lives.filter((life) => upDuring(life, from, to)) };
  }

  private async read(): Promise<IndexFile> {
    const stat = statSync(this.file, { throwIfNoEntry: false });
    const stamp = stat === undefined ? 'none' : `${stat.mtimeMs}/${stat.size}/${stat.ino}`;
    if (this.cached?.stamp === stamp) return this.cached.index;
    const text = await readTextIfExists(this.file);
    let index: IndexFile = { throughHour: null, lives: [] };
    if (text !== null) {
      const parsed = IndexFileSchema.safeParse(safeJson(text));
      if (!parsed.success)
        throw new Error(`the instance index ${this.file} is damaged: ${parsed.error.message}`);
      index = parsed.data;
    }
    this.cached = { stamp, index };
    return index;
  }
}

/** One order of fields whichever way a life was made, so the same index is the same bytes. */
function inFieldOrder(life: InstanceLife): InstanceLife {
  const { instance, project, machineName, user, experiment, spans, deletedAt } = life;
  return { instance, project, machineName, user, experiment, spans, deletedAt };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sortLives(lives: InstanceLife[]): InstanceLife[] {
  const keyed = lives.map((life) => ({ life, identity: lifeIdentity(life) }));
  keyed.sort(
    (a, b) =>
      compareText(a.life.instance, b.life.instance) ||
      a.life.spans[0].from - b.life.spans[0].from ||
      compareText(a.identity, b.identity),
  );
  return keyed.map(({ life }) => life);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
