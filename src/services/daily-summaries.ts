import type { Access } from '../auth/access';
import { type DailySummaryRecord, machineMinutes, summaryMinutes } from '../domain/summaries';
import { DAY_MS, periodStart, utcDate } from '../domain/time';
import type { DailySummaryStore } from '../store/summaries';
import { dailySummaryId } from './ids';
import { presented } from './precision';
import { resourcesView, type ResourceFiguresView } from './resource-figures';
import { figuresView, type UsageFiguresView } from './usage-series';

export interface DailySummaryView {
  id: string;
  user: string;
  /** Start of the UTC day, epoch ms. */
  date: number;
  vmMinutes: number;
  ramGbMinutes: number;
  diskGbMinutes: number;
  byMachine: Array<{ machineName: string; minutes: number }>;
  usage: UsageFiguresView;
  resources: ResourceFiguresView;
  complete: boolean;
}

export function dailySummaryView(record: DailySummaryRecord): DailySummaryView {
  const minutes = summaryMinutes(record.figures);
  return {
    id: dailySummaryId(record.user, record.date),
    user: record.user,
    date: periodStart(record.date),
    vmMinutes: presented(minutes.vmMinutes),
    ramGbMinutes: presented(minutes.ramGbMinutes),
    diskGbMinutes: presented(minutes.diskGbMinutes),
    byMachine: record.byMachine.map(({ machineName, upHours }) => ({
      machineName,
      minutes: presented(machineMinutes(upHours)),
    })),
    usage: figuresView(record.figures),
    resources: resourcesView(record.figures),
    complete: record.complete,
  };
}

/**
 * The user's summaries of the UTC days that overlap [from, to) (epoch ms, validated), in date
 * order; a day never summarised is absent. Readable as the user's USER series is.
 */
export async function readDailySummaries(
  summaries: Pick<DailySummaryStore, 'read'>,
  access: Access,
  user: string,
  range: { from: number; to: number },
): Promise<DailySummaryView[]> {
  await access.requireSeries('USER', [user]);
  const fromDate = utcDate(range.from);
  const toDate = utcDate(Math.ceil(range.to / DAY_MS) * DAY_MS);
  return (await summaries.read(user, fromDate, toDate)).map(dailySummaryView);
}
