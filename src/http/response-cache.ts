import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { rootFieldNames } from './root-fields';

/**
 * Rendered answers of read-only queries over stored usage, kept while the store is unchanged.
 * A dashboard asks the same few queries again and again; a year of hours renders megabytes, and
 * executing and serialising it again is almost all of its cost. An answer is reused only for the
 * same request (body, query string, Accept), the same principal and the same store version, and
 * only for root fields whose answer depends on nothing else (not the clock, not live Prometheus).
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

export class ResponseCache {
  private readonly entries = new Map<string, CachedResponse & { version: string }>();
  private chars = 0;

  constructor(private readonly maxChars: number) {}

  get(key: string, version: string): CachedResponse | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.version !== version) {
      this.chars -= entry.body.length + key.length;
      return undefined;
    }
    // Most recently used last, so eviction takes the least recently used first.
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, version: string, response: CachedResponse): void {
    const chars = response.body.length + key.length;
    if (chars > this.maxChars / 4) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.chars -= old.body.length + key.length;
    }
    this.entries.set(key, { ...response, version });
    this.chars += chars;
    for (const [oldest, entry] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(oldest);
      this.chars -= entry.body.length + oldest.length;
    }
  }
}

/** Where a request's context carries its mark; Apollo shallow-copies the context, which keeps it. */
export const CACHE_MARK = Symbol('carbonledger.cacheMark');
export interface CacheMark {
  rootFields?: string[];
}

/** The mark the HTTP layer put on a context, to read once Apollo has answered. */
export function markOf(context: object): CacheMark {
  const holder = context as { [CACHE_MARK]?: CacheMark };
  return (holder[CACHE_MARK] ??= {});
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
