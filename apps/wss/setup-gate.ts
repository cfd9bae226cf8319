// A bound on the connection set-ups a WSS runs at once (the inbox reads
// before and after hello).
// When thousands of clients reconnect together, running every set-up at once
// makes all of them finish late and piles up garbage; with a bound, set-ups
// finish in arrival order at the rate the stores allow, and the rest wait
// their turn, first come first served.

export class SetupGate {
  private running = 0;
  private readonly queue: (() => void)[] = [];
  private head = 0;

  /** @param limit set-ups run at once (at least 1) */
  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new Error(`the set-up limit must be a positive integer, not ${limit}`);
    }
  }

  /** Set-ups waiting for their turn. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Runs `work` when a slot is free; the slot is released when it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) {
      this.running++;
    } else {
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  /** Hands the slot to the next in line, or frees it. */
  private release(): void {
    if (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      this.head++;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      next();
      return;
    }
    this.running--;
  }
}
