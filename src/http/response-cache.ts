import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { LRUCache } from 'lru-cache';
import { markOf } from './request-mark';
import { rootFieldNames } from './root-fields';

/**
 * Rendered answers of read-only queries over stored usage, kept while the store is unchanged.
 * A dashboard asks the same few queries again and again; a year of hours renders megabytes, and
 * executing and serialising it again is almost all of its cost. An answer is reused only for the
 * same request (body, query string, Accept), the same principal and the same store version, and
 * only for root fields whose answer depends on nothing else (not the clock, not live Prometheus).
 * "The same principal" is what it may see (`scopeKey`), never its name: names are labels, and
 * two tokens of one name but other scopes must never share an answer.
 */
export const CACHEABLE_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'usageSeries',
  'usageSeriesMany',
  'usageKeys',
  '__typename',
]);

export interface CachedResponse {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  rootFields: string[];
}

/**
 * The rendered answers, least recently used out first, bounded by their characters (bodies and
 * keys). An answer of another store version is forgotten when met.
 */
export class ResponseCache {
  private readonly entries: LRUCache<string, CachedResponse & { version: string }>;

  constructor(maxChars: number) {
    // lru-cache: eviction by size and recency, and refusal of one entry over a quarter of it.
    this.entries = new LRUCache({
      maxSize: maxChars,
      maxEntrySize: maxChars / 4,
      sizeCalculation: (entry, key) => entry.body.length + key.length,
    });
  }

  get(key: string, version: string): CachedResponse | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.version === version) return entry;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, version: string, response: CachedResponse): void {
    this.entries.set(key, { ...response, version });
  }
}

/**
 * Marks, per request context, the root fields of a query that may be cached: a query (not a
 * mutation) whose root fields are all cacheable, executed with no error.
 */
export function cacheMarkPlugin(): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      let rootFields: string[] | undefined;
      let failed = false;
      return {
        async didResolveOperation({ operation, document }) {
          if (operation?.operation !== 'query') return;
          const fields = rootFieldNames(operation, document);
          if (fields.length > 0 && fields.every((field) => CACHEABLE_ROOT_FIELDS.has(field)))
            rootFields = fields;
        },
        async didEncounterErrors() {
          failed = true;
        },
        async willSendResponse({ contextValue, response }) {
          const ok = response.http.status === undefined || response.http.status === 200;
          if (rootFields !== undefined && !failed && ok && response.body.kind === 'single') {
            markOf(contextValue).rootFields = rootFields;
          }
        },
      };
    },
  };
}
