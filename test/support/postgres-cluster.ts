import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runTool } from '../../src/bench/watched-process';
import { queryOnce, SERVER_URL } from './postgres';

/**
 * PostgreSQL servers of a test's own, with Debian's /usr/lib/postgresql/<n>/bin tools: a fresh
 * cluster (to restart or stop at will, never the machine's shared server) or a streaming hot
 * standby of the machine's server.
 */
export interface TemporaryCluster {
  port: number;
  /** A URL of database `postgres` on it. */
  url: string;
  /** A URL of `database` on it. */
  urlOf(database: string): string;
  /** pg_ctl restart: `immediate` is a crash (no checkpoint), `fast` a clean shutdown. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its files. */
  destroy(): Promise<void>;
}

/** The bin directory of the newest PostgreSQL Debian installed. */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    : [];
  if (versions.length === 0)
    throw new Error(`no PostgreSQL server tools under ${root} (apt-get install postgresql)`);
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

/** PostgreSQL's tools refuse to run as root: as root, they run as the postgres user. */
function asOwner(tool: string, args: string[]): Promise<string> {
  const path = join(postgresBin(), tool);
  return process.getuid?.() === 0
    ? runTool('runuser', ['-u', 'postgres', '--', path, ...args])
    : runTool(path, args);
}

function ownDirectory(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  return dir;
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user on this machine');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function clusterAt(dir: string, port: number): TemporaryCluster {
  const data = join(dir, 'data');
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`;
  const start = async () =>
    void (await asOwner('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']));
  const stop = async (mode: 'fast' | 'immediate' = 'fast') =>
    void (await asOwner('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']));
  const urlOf = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url: urlOf('postgres'),
    urlOf,
    start,
    stop,
    async restart(mode = 'fast') {
      await stop(mode);
      await start();
    },
    async destroy() {
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A new, empty cluster on a free port (trust auth, fsync off: a test's data need not survive a power cut). */
export async function startTemporaryCluster(): Promise<TemporaryCluster> {
  const dir = ownDirectory('carbonledger-pg-');
  await asOwner('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  writeFileSync(join(dir, 'data', 'postgresql.auto.conf'), 'fsync = off\nmax_connections = 40\n', {
    flag: 'a',
  });
  const cluster = clusterAt(dir, await freePort());
  await cluster.start();
  return cluster;
}

/** The line allowing a standby on this host to stream from the machine's server. */
const REPLICATION_LINE = 'host replication all 127.0.0.1/32 trust';

/**
 * Lets the machine's server stream to a standby on this host, if it does not already: a trust
 * line for replication from 127.0.0.1 in its pg_hba.conf, then a reload. Idempotent: the line is
 * appended only when neither the file nor the server's parsed rules hold it, and the reload runs
 * every time (cheap), so a line an interrupted run appended but never loaded is loaded now.
 * wal_level and max_wal_senders need a restart of that shared server, so they are checked, never
 * changed. CI runs as root, which may write the file; another user gets the file's own error.
 */
export async function allowLocalReplication(): Promise<void> {
  const [settings] = await queryOnce<{ wal_level: string; senders: number; hba: string }>(
    SERVER_URL,
    `SELECT current_setting('wal_level') AS wal_level, current_setting('max_wal_senders')::int AS senders,
            current_setting('hba_file') AS hba`,
  );
  if (settings.wal_level === 'minimal' || settings.senders < 2) {
    throw new Error(
      `the server at ${SERVER_URL} cannot stream to a standby: set wal_level = replica and ` +
        `max_wal_senders ≥ 2 in its postgresql.conf and restart it`,
    );
  }
  const rules = await queryOnce<{ n: number }>(
    SERVER_URL,
    `SELECT count(*)::int AS n FROM pg_hba_file_rules
     WHERE 'replication' = ANY(database) AND auth_method = 'trust' AND type = 'host' AND address = '127.0.0.1'`,
  );
  const text = readFileSync(settings.hba, 'utf8');
  const present = rules[0].n > 0 || text.split('\n').some((line) => line.trim() === REPLICATION_LINE);
  if (!present) {
    writeFileSync(
      settings.hba,
      `${text.endsWith('\n') ? '' : '\n'}# carbonledger tests: a standby on this host\n${REPLICATION_LINE}\n`,
      {
        flag: 'a',
      },
    );
  }
  await queryOnce(SERVER_URL, 'SELECT pg_reload_conf()');
  // pg_reload_conf only signals the postmaster, which rereads the file a moment later.
  if (!present) await new Promise((resolve) => setTimeout(resolve, 500));
}

/**
 * A streaming hot standby, from pg_basebackup, on a free port: of the machine's server, or of
 * `of` (a test's own cluster, which initdb lets stream to this host: a smaller, quicker copy that
 * leaves the machine's server, and whatever else runs on it, alone).
 */
export async function startStandby(of?: TemporaryCluster): Promise<TemporaryCluster> {
  if (of === undefined) await allowLocalReplication();
  const dir = ownDirectory('carbonledger-standby-');
  const data = join(dir, 'data');
  const primary = new URL(of?.url ?? SERVER_URL);
  await asOwner('pg_basebackup', [
    ...['-h', primary.hostname, '-p', primary.port || '5432', '-U', primary.username || 'postgres'],
    ...['-D', data, '-R', '-X', 'stream', '--checkpoint=fast'],
  ]);
  // Debian keeps a cluster's configuration under /etc, so the copy holds none: give it its own.
  writeFileSync(join(data, 'postgresql.conf'), 'hot_standby = on\nfsync = off\n');
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  writeFileSync(join(data, 'pg_ident.conf'), '');
  if (process.getuid?.() === 0) {
    const { uid, gid } = postgresUser();
    for (const file of ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf'])
      chownSync(join(data, file), uid, gid);
  }
  const standby = clusterAt(dir, await freePort());
  await standby.start();
  return standby;
}
