import type pg from 'pg';
import { errorFields, type Logger } from '../../log';
import type { JobClaim, JobClaims } from '../job-claims';

/**
 * JobClaims as a lease row a job (table job_lease): a tick is claimed by moving the row to it,
 * which succeeds only for a later tick than the row's and only when the row's run has ended or
 * its lease expired. The holder renews the lease while it runs, every third of its length; a
 * holder that dies stops renewing and the next tick goes to another replica once it expires.
 */
export class PostgresJobLeases implements JobClaims {
  constructor(
    private readonly pool: pg.Pool,
    /** This process, as other replicas and the operator see it in job_lease. */
    private readonly holder: string,
    private readonly leaseMs: number,
    private readonly log: Logger,
  ) {}

  async claim(job: string, tick: number): Promise<JobClaim | null> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO job_lease AS lease (job, tick, holder, expires_at)
       VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
       ON CONFLICT (job) DO UPDATE SET tick = excluded.tick, holder = excluded.holder, expires_at = excluded.expires_at
       WHERE lease.tick < excluded.tick AND (lease.holder IS NULL OR lease.expires_at < now())`,
      [job, new Date(tick).toISOString(), this.holder, this.leaseMs],
    );
    if (rowCount !== 1) return null;
    return this.held(job, new Date(tick).toISOString());
  }

  private held(job: string, tick: string): JobClaim {
    const controller = new AbortController();
    let renewedAt = Date.now();
    const renew = async (): Promise<void> => {
      try {
        const { rowCount } = await this.pool.query(
          `UPDATE job_lease SET expires_at = now() + $4 * interval '1 millisecond'
           WHERE job = $1 AND tick = $2 AND holder = $3`,
          [job, tick, this.holder, this.leaseMs],
        );
        if (rowCount !== 1) controller.abort(new Error(`the lease of ${job} was taken over`));
        renewedAt = Date.now();
      } catch (err) {
        this.log.warn('job lease not renewed', { job, ...errorFields(err) });
        // Another replica may take the next tick once the lease is out: this run must stop.
        if (Date.now() - renewedAt > this.leaseMs) controller.abort(new Error(`the lease of ${job} expired`));
      }
    };
    const timer = setInterval(() => void renew(), this.leaseMs / 3);
    timer.unref();
    let released = false;
    return {
      lost: controller.signal,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.pool.query(
          `UPDATE job_lease SET holder = NULL, expires_at = now() WHERE job = $1 AND tick = $2 AND holder = $3`,
          [job, tick, this.holder],
        );
      },
    };
  }
}
