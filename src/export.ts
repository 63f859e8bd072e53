import { graphql, type GraphQLSchema } from 'graphql';
import { systemClock } from './domain/clock';
import { CPU_NAMES, RESOURCE_VIEW_FIELDS } from './domain/metrics';
import type { Logger } from './log';
import { createRequestContext } from './app-schema';
import type { Store } from './store/store';
import { ExportInputError, type ExportFormat } from './export-formats';

export interface ExportRequest {
  level: string;
  key: string;
  from: string;
  to: string;
  granularity: string;
}

/** The seed's six, then the two sums the schema adds: every figure set's columns. */
const FIGURES = [...CPU_NAMES, 'totalKwh', 'totalGco2eq'] as const;
/** The resources beside them (contract section 8), as the schema names them. */
const RESOURCES = RESOURCE_VIEW_FIELDS;

const EXPORT_QUERY = `query Export($level: UsageLevel!, $key: String!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
  usageSeries(level: $level, key: $key, from: $from, to: $to, granularity: $granularity) {
    level key granularity from to
    total { ${FIGURES.join(' ')} }
    resourcesTotal { ${RESOURCES.join(' ')} }
    buckets {
      start end status failedHours
      usage { ${FIGURES.join(' ')} }
      resources { ${RESOURCES.join(' ')} }
      byMachine { machineName usage { ${FIGURES.join(' ')} } }
    }
  }
}`;

type FigureRow = Record<(typeof FIGURES)[number], number>;

interface ExportedSeries {
  level: string;
  key: string;
  granularity: string;
  from: string;
  to: string;
  total: FigureRow;
  resourcesTotal: Record<string, number>;
  buckets: Array<{
    start: string;
    end: string;
    status: string;
    failedHours: number;
    usage: FigureRow | null;
    resources: Record<string, number> | null;
    byMachine: Array<{ machineName: string; usage: FigureRow }>;
  }>;
}

/**
 * Runs the export through the same schema, validation and services as the API (an admin's view:
 * whoever can run the CLI can read the store's files anyway) and renders it.
 */
export async function exportSeries(
  deps: { schema: GraphQLSchema; store: Store; log: Logger },
  request: ExportRequest,
  format: ExportFormat,
): Promise<string> {
  const result = await graphql({
    schema: deps.schema,
    source: EXPORT_QUERY,
    variableValues: { ...request },
    contextValue: createRequestContext({ store: deps.store, clock: systemClock, log: deps.log }),
  });
  if (result.errors?.length) {
    const [first] = result.errors;
    const code = first.extensions?.code;
    // Variable coercion errors (a bad enum or date) carry no code and no path: also the caller's.
    if (code === 'BAD_USER_INPUT' || (code === undefined && first.path === undefined)) {
      throw new ExportInputError(first.message);
    }
    throw first.originalError ?? first;
  }
  const series = (result.data as { usageSeries: ExportedSeries }).usageSeries;
  return format === 'json' ? JSON.stringify(series, null, 2) + '\n' : toCsv(series);
}

/**
 * One row per bucket. Figure cells are empty where no hour of the bucket is ok (`usage` null), so a
 * spreadsheet never mistakes a failed or missing bucket for zero usage.
 */
function toCsv(series: ExportedSeries): string {
  const header = ['level', 'key', 'start', 'end', 'status', 'failedHours', ...FIGURES, ...RESOURCES];
  const lines = [header.join(',')];
  for (const bucket of series.buckets) {
    const figures = FIGURES.map((name) => (bucket.usage === null ? '' : String(bucket.usage[name])));
    const resources = RESOURCES.map((name) =>
      bucket.resources === null ? '' : String(bucket.resources[name]),
    );
    lines.push(
      [
        series.level,
        csvCell(series.key),
        bucket.start,
        bucket.end,
        bucket.status,
        bucket.failedHours,
        ...figures,
        ...resources,
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** RFC 4180: a cell with a comma, quote or line break is quoted, its quotes doubled. */
export function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
