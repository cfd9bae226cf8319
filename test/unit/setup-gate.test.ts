import { describe, expect, it } from "vitest";

import { SetupGate } from "../../apps/wss/setup-gate.ts";

describe("connection set-up gate", () => {
  it("runs at most its limit at once, the rest in arrival order", async () => {
    const gate = new SetupGate(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const work = (i: number) => async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      running--;
    };
    await Promise.all(Array.from({ length: 7 }, (_, i) => gate.run(work(i))));
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(gate.waiting).toBe(0);
  });

  it("frees the slot of a set-up that failed", async () => {
    const gate = new SetupGate(1);
    await expect(gate.run(() => Promise.reject(new Error("no")))).rejects.toThrow("no");
    await expect(gate.run(async () => 1)).resolves.toBe(1);
  });

  it("refuses a limit below one", () => {
    expect(() => new SetupGate(0)).toThrow(/positive integer/);
  });
});
