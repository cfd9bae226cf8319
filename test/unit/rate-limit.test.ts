import { describe, expect, it } from "vitest";

import { RateLimiter } from "../../apps/shared/rate-limit.ts";

describe("rate limiter", () => {
  it("lets a burst through, then refills at the rate", () => {
    const limiter = new RateLimiter({ rate: 2, burst: 4 });
    const t = 1_000_000;
    expect([1, 2, 3, 4].map(() => limiter.take("a", 1, t))).toEqual([0, 0, 0, 0]);
    expect(limiter.take("a", 1, t)).toBe(1);
    expect(limiter.take("a", 1, t + 500)).toBe(0);
    expect(limiter.take("b", 1, t)).toBe(0);
  });

  it("charges a cost, and lets a cost above the burst pass once the bucket is full", () => {
    const limiter = new RateLimiter({ rate: 10, burst: 100 });
    const t = 1_000_000;
    expect(limiter.take("g", 60, t)).toBe(0);
    // 40 left: 60 more need 2 s of refill.
    expect(limiter.take("g", 60, t)).toBe(2);
    expect(limiter.take("g", 60, t + 2000)).toBe(0);
    expect(limiter.take("big", 1000, t)).toBe(0);
    expect(limiter.take("big", 1000, t)).toBe(10);
  });
});
