import type { KeptHour } from '../store/kept-figures';

/** What an ingestion run did, hour by hour. */
export interface IngestReport {
  hours: number;
  okHours: number;
  failed: Array<{ hour: number; error: string }>;
  /**
   * Ok hours whose stored figures were kept: the source answered with fewer series, or fewer
   * samples behind as many (see `seriesVanished`).
   */
  kept: KeptHour[];
  /** Instance-hours written (those of kept hours are not). */
  instanceHours: number;
  /** Of those, the instance-hours counted under a project other than `unknown`. */
  projectInstanceHours: number;
  /**
   * Ok hours in which the source answered but no instance at all had samples: stored ok with no
   * usage (contract section 1), yet more often a selector matching nothing or a Prometheus not
   * scraping yet than an idle fleet, so they are told apart from hours of usage.
   */
  noDataHours: number[];
}

export function emptyReport(): IngestReport {
  return {
    hours: 0,
    okHours: 0,
    failed: [],
    kept: [],
    instanceHours: 0,
    projectInstanceHours: 0,
    noDataHours: [],
  };
}

/** The reports of several ranges of one run, as one. */
export function addReport(total: IngestReport, report: IngestReport): void {
  total.hours += report.hours;
  total.okHours += report.okHours;
  total.failed.push(...report.failed);
  total.kept.push(...report.kept);
  total.instanceHours += report.instanceHours;
  total.noDataHours.push(...report.noDataHours);
}
