import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** The npm packages a fresh process holds after requiring `modules` from src/. */
function packagesLoadedBy(modules: string[]): string[] {
  const script = `
    ${modules.map((m) => `require(${JSON.stringify(join(ROOT, 'src', m))});`).join('\n')}
    const names = Object.keys(require.cache)
      .filter((file) => file.includes('/node_modules/'))
      .map((file) => file.split('/node_modules/').pop().split('/'))
      .map((parts) => (parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]));
    process.stdout.write(JSON.stringify([...new Set(names)]));`;
  const out = execFileSync(
    process.execPath,
    ['-r', join(ROOT, 'test/support/swc-register.js'), '-e', script],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  );
  return JSON.parse(out) as string[];
}

describe('what an ingestion into the JSON store loads', () => {
  it('holds no database driver and no HTTP or GraphQL server stack until a verb or backend needs it', () => {
    const loaded = packagesLoadedBy(['ingest/wiring.ts', 'store/open.ts', 'cli.ts']);
    for (const absent of [
      'pg',
      'pg-copy-streams',
      'mysql2',
      'better-sqlite3',
      '@apollo/server',
      'type-graphql',
      'nodemailer',
    ]) {
      expect(loaded).not.toContain(absent);
    }
  });
});
