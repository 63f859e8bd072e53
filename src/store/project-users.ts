import type { Breakdown } from '../domain/figures';
import type { ProjectUserHour } from '../domain/usage';

/**
 * A store capability: usage by project and user, which no level holds (PROJECT and USER are each
 * summed over the other). What per-user reports (PERSEUS `perUser`) need.
 */
export interface ProjectUserFigures {
  /** Replaces the hours in `hours`: afterwards each holds exactly its rows in `rows` (none: nothing). */
  replaceHours(hours: readonly number[], rows: readonly ProjectUserHour[]): Promise<void>;
  /** Every day (`YYYY-MM-DD`) that holds any row, sorted. */
  days(): Promise<string[]>;
  /** Every row of the day, one an hour, project and user (rows given for one are summed). */
  readDayRows(day: string): Promise<ProjectUserHour[]>;
  /** The day's totals (`YYYY-MM-DD`) of `project`, by user. */
  readDay(day: string, project: string): Promise<Map<string, Breakdown>>;
}
