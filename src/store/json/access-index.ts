import type { Logger } from '../../log';
import { writeFileAtomic } from '../../fs/files';
import { instanceProjectsText, parseInstanceProjects } from './codec';
import { CorruptFileError } from './errors';
import type { JsonLayout } from './layout';
import { readStoreText } from './read';

/**
 * The access index as the writer keeps it, `index/instance-projects.json`: the union of every
 * batch's projects per instance. True from `merge` when it grew.
 */
export class AccessIndexFile {
  constructor(
    private readonly layout: JsonLayout,
    private readonly log: Logger,
  ) {}

  /**
   * A damaged index is left as it is and reported, and the batch goes on: rebuilt from the batches
   * alone it would forget projects an instance ran under, and a token scoped to the others would
   * then see it. Readers meanwhile know no instance, so scoped tokens see no INSTANCE series.
   */
  async merge(batch: Readonly<Record<string, readonly string[]>>): Promise<boolean> {
    const path = this.layout.instanceProjectsFile;
    let known: Map<string, ReadonlySet<string>>;
    try {
      const text = await readStoreText(path);
      known = text === null ? new Map() : parseInstanceProjects(text, path);
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      this.log.error('the access index is damaged; not updated until an operator restores or removes it', {
        path,
        reason: err.message,
      });
      return false;
    }
    let grew = false;
    for (const [instance, projects] of Object.entries(batch)) {
      const set = new Set(known.get(instance));
      for (const project of projects) {
        if (!set.has(project)) {
          set.add(project);
          grew = true;
        }
      }
      known.set(instance, set);
    }
    if (grew) await writeFileAtomic(path, instanceProjectsText(known));
    return grew;
  }
}
