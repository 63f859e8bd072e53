import { parseConfig } from '../../../src/config';
import { DAY_MS } from '../../../src/domain/time';
import { jsonLogger } from '../../../src/log';
import { createOpenNebulaSource } from '../../../src/plugins/opennebula/source';
import { postUsageReport } from '../../../src/plugins/perseus/client';
import type { UsageReportBody } from '../../../src/plugins/perseus/report';
import { DAY, NOW } from '../../support/opennebula-checks';

const perseus = (url: string) => ({
  sinks: { perseus: { url, token: 't', projects: {}, resource: 'cloud' } },
});
const opennebula = (url: string) => ({ prometheus: { enabled: false }, sources: { opennebula: { url } } });

/** The message parseConfig throws for `raw`. */
function configError(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the config was accepted');
}

describe('URLs with credentials', () => {
  it('refuses sinks.perseus.url with user:password@, naming the path and not the password', () => {
    const message = configError(perseus('http://user:s3cr3t-pw@perseus.example/'));
    expect(message).toMatch(/sinks\.perseus\.url: must not hold credentials/);
    expect(message).not.toContain('s3cr3t-pw');
    expect(() => parseConfig(perseus('https://perseus.example/api'))).not.toThrow();
  });

  it('refuses an OpenNebula URL whose port is out of range, naming the path and not the password', () => {
    const message = configError(opennebula('mysql://root:s3cr3t-pw@db.example:99999/opennebula'));
    expect(message).toMatch(/sources\.opennebula\.url: not a valid URL/);
    expect(message).not.toContain('s3cr3t-pw');
    expect(() => parseConfig(opennebula('mysql://root:pw@db.example:3306/opennebula'))).not.toThrow();
    expect(() => parseConfig(opennebula('sqlite:/tmp/acct.db'))).not.toThrow();
  });

  it('logs a URL a message quotes without its password', () => {
    const lines: string[] = [];
    jsonLogger((line) => lines.push(line)).error('failed', {
      error: 'Invalid URL mysql://root:s3cr3t-pw@db:99999/one',
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('s3cr3t-pw');
    expect(lines[0]).toContain('mysql://root:***@db:99999/one');
  });

  it('records no password of a PERSEUS URL that fetch refuses and quotes', async () => {
    const outcome = await postUsageReport(
      { url: 'http://user:s3cr3t-pw@127.0.0.1:9', token: 't0k', timeoutMs: 30_000 },
      { project_oid: 'p' } as UsageReportBody,
    );
    expect(outcome.status).toBe('unreachable');
    expect(outcome.answer).not.toContain('s3cr3t-pw');
  });

  it('stores and logs no password of an OpenNebula URL the driver cannot use', async () => {
    const lines: string[] = [];
    const source = createOpenNebulaSource(
      {
        ...parseConfig(opennebula('sqlite:/x')).sources.opennebula!,
        url: 'mysql://root:s3cr3t-pw@db:99999/one',
      },
      { now: () => NOW, log: jsonLogger((line) => lines.push(line)) },
    );
    const answers = await source.fetchHours(DAY, DAY + DAY_MS / 24);
    const answer = [...answers.values()][0];
    expect(answer.status).toBe('failed');
    expect(JSON.stringify(answer)).not.toContain('s3cr3t-pw');
    expect(lines.join('\n')).not.toContain('s3cr3t-pw');
  });
});
