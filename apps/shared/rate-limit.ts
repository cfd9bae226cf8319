// Token buckets per key (a user, a connection): `rate` tokens a second, up to
// `burst`. Idle keys are forgotten so the map stays bounded.

export interface RateLimitOptions {
  /** Tokens added per second. */
  readonly rate: number;
  /** Bucket size: how many may come at once. */
  readonly burst: number;
  /** Keys tracked at most; the least recently used go first. @default 100000 */
  readonly maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly o: RateLimitOptions) {
    this.maxKeys = o.maxKeys ?? 100_000;
  }

  /**
   * Takes `cost` tokens (capped at the burst, so any cost can pass once the
   * bucket is full); returns 0 when allowed, else the seconds until they are free.
   */
  take(key: string, cost = 1, now = Date.now()): number {
    const need = Math.min(cost, this.o.burst);
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.rate);
      b.at = now;
    } else {
      b = { tokens: this.o.burst, at: now };
    }
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }

    if (b.tokens >= need) {
      b.tokens -= need;
      return 0;
    }
    return Math.max(1, Math.ceil((need - b.tokens) / this.o.rate));
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }
}
