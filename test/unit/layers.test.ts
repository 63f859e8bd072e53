import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Imports point one way (DESIGN.md): CLI/HTTP -> resolvers -> services -> store -> domain; an
 * ingestion run -> its ports, aggregators, store -> domain; adapters (src/plugins) implement the
 * run's ports. Read from the sources' import statements, type-only imports included: a type
 * import is a dependency too.
 */
const SRC = resolve(__dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const IMPORT = /(?:from\s+|import\s*\(\s*|require\(\s*|import\s+)['"](\.[^'"]+)['"]/g;

function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  return [`${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
}

/** Every source file (relative to src/) with the source files it imports. */
const GRAPH = new Map(
  sources(SRC).map((file) => [
    relative(SRC, file),
    [...readFileSync(file, 'utf8').matchAll(IMPORT)].flatMap(([, specifier]) => {
      const target = resolveImport(file, specifier);
      return target === undefined ? [] : [relative(SRC, target)];
    }),
  ]),
);

/** Imports from files under `from` to files under any of `to`, as `a -> b`. */
function importsBetween(from: string, to: readonly string[]): string[] {
  const under = (path: string, folder: string) => path === folder || path.startsWith(`${folder}/`);
  return [...GRAPH].flatMap(([file, targets]) =>
    under(file, from)
      ? targets.filter((t) => to.some((folder) => under(t, folder))).map((t) => `${file} -> ${t}`)
      : [],
  );
}

describe('import direction', () => {
  it('reads a real import graph', () => {
    expect(GRAPH.get('ingest/run.ts')).toContain('ingest/ports.ts');
    expect(GRAPH.size).toBeGreaterThan(100);
  });

  it('domain imports only domain (no config, no store, no I/O layers)', () => {
    const outside = [...new Set([...GRAPH.keys()].map((file) => file.split('/')[0]))].filter(
      (top) => top !== 'domain',
    );
    expect(importsBetween('domain', outside)).toEqual([]);
  });

  it('aggregators import only the domain', () => {
    const outside = [...new Set([...GRAPH.keys()].map((file) => file.split('/')[0]))].filter(
      (top) => top !== 'domain' && top !== 'aggregate',
    );
    expect(importsBetween('aggregate', outside)).toEqual([]);
  });

  it('the store never imports ingestion, adapters, services or the API', () => {
    expect(
      importsBetween('store', [
        'ingest',
        'plugins',
        'services',
        'resolvers',
        'schema',
        'http',
        'cli',
        'cli.ts',
      ]),
    ).toEqual([]);
  });

  it('schema types never import resolvers (resolvers import schema; app-schema joins them)', () => {
    expect(importsBetween('schema', ['resolvers', 'app-schema.ts'])).toEqual([]);
  });

  it('services never import resolvers, schema or HTTP', () => {
    expect(importsBetween('services', ['resolvers', 'schema', 'http', 'app-schema.ts'])).toEqual([]);
  });

  it('adapters never import GraphQL layers, and reach the run only through its ports', () => {
    expect(importsBetween('plugins', ['resolvers', 'schema', 'http', 'app-schema.ts'])).toEqual([]);
    expect(importsBetween('plugins', ['ingest/run.ts'])).toEqual([]);
  });

  it('an ingestion run imports no adapter', () => {
    expect(importsBetween('ingest/run.ts', ['plugins'])).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[][] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const path: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'visiting');
      path.push(file);
      for (const next of GRAPH.get(file) ?? []) {
        if (state.get(next) === 'visiting') cycles.push([...path.slice(path.indexOf(next)), next]);
        else if (state.get(next) === undefined) visit(next);
      }
      path.pop();
      state.set(file, 'done');
    };
    for (const file of GRAPH.keys()) if (state.get(file) === undefined) visit(file);
    expect(cycles.map((cycle) => cycle.join(' -> '))).toEqual([]);
  });
});
