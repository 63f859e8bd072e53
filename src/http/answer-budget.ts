import type { Gauge } from 'prom-client';

/**
 * What the answers in flight may hold at once, in the units of an operation's estimated cost
 * (operation-limits.ts: about the values the answer holds). An answer holds its cost from the
 * moment it is admitted, through execution, until its last byte is handed to the socket or its
 * client goes: a client that asks for a year of hours and never reads the answer keeps that
 * answer in memory, and many such clients would exhaust it.
 */
export class AnswerBudget {
  private held = 0;

  constructor(
    readonly maxCost: number,
    private readonly gauge?: Gauge,
  ) {}

  /**
   * Takes `cost` from the budget and returns true, or returns false when it does not fit. An
   * operation alone is always admitted (the cost limit already bounds one), so a budget smaller
   * than an operation slows the server down to one at a time rather than refusing that operation.
   */
  tryTake(cost: number): boolean {
    if (this.held > 0 && this.held + cost > this.maxCost) return false;
    this.held += cost;
    this.gauge?.set(this.held);
    return true;
  }

  give(cost: number): void {
    this.held = Math.max(0, this.held - cost);
    this.gauge?.set(this.held);
  }

  /** The cost held by the answers in flight now. */
  get inFlight(): number {
    return this.held;
  }
}
