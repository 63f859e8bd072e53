/**
 * A store capability: scheduled work claimed in the store, so that of several `serve` processes
 * sharing it each tick of a job runs once, never two runs of a job at once, and a process that
 * dies mid-run holds nothing for long.
 */
export interface JobClaims {
  /**
   * Claims the run of `job` for the tick scheduled at `tick` (epoch ms, the same on every process:
   * the cron's nominal time). Null when another process claimed this tick (or a later one), or
   * still runs an earlier one.
   */
  claim(job: string, tick: number): Promise<JobClaim | null>;
}

export interface JobClaim {
  /** Aborted when the claim could not be kept alive (the store unreachable past its lease). */
  readonly lost: AbortSignal;
  /** Ends the run: the next tick may be claimed by any process. */
  release(): Promise<void>;
}
