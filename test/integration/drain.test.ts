// Graceful drain: SIGTERM on a WSS stops it accepting, closes its sockets with
// 1012 and a jittered reconnect hint, removes their presence and exits;
// clients move to the other WSS and miss nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DeliveryChecker } from "../../apps/checker/checker.ts";
import { runSenders } from "../../apps/checker/senders.ts";
import { listPresence } from "../../apps/shared/presence.ts";
import type { ZkSession } from "../../apps/shared/zk.ts";
import { eventually, TestSystem } from "../helpers/system.ts";

let sys: TestSystem;
let zk: ZkSession;

beforeAll(async () => {
  sys = await TestSystem.start({ only: ["usa"] });
  zk = await sys.zk("usa");
});
afterAll(async () => {
  zk?.close();
  await sys?.stop();
});

async function nodesOf(wss: string): Promise<number> {
  return (await listPresence(zk)).filter((n) => n.includes(`~${wss}~`)).length;
}

describe("graceful drain of a WSS", () => {
  it("closes with 1012 and a reconnect hint, deregisters, exits, and loses nothing", async () => {
    const checker = new DeliveryChecker();
    const wss = sys.region("usa").wss;
    const clients = await sys.receivers(["dr0:usa", "dr1:usa", "dr2:usa"], checker, {
      urls: [wss[0]!, wss[1]!],
    });
    const closes: { code: number; reason: string }[] = [];
    for (const c of clients)
      c.on("close", (code: number, reason: string) => closes.push({ code, reason }));
    expect(await nodesOf("usa-wss-1")).toBe(3);

    const sending = runSenders({
      send: sys.httpSend(),
      checker,
      plans: [{ from: "drs:usa", to: ["dr0:usa", "dr1:usa", "dr2:usa"], count: 60 }],
      intervalMs: 20,
    });
    await new Promise((r) => setTimeout(r, 300));
    const proc = sys.local.get("usa-wss-1").proc;
    const exited = new Promise<number | null>((r) =>
      proc.once("exit", (code) => r(code)),
    );
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);

    // The close frames left before the exit; their events may come just after it.
    await eventually("every client saw its close", () => closes.length === 3, 5000);
    expect(closes).toHaveLength(3);
    for (const c of closes) {
      expect(c.code).toBe(1012);
      const hint = JSON.parse(c.reason) as { retryInMs: number };
      expect(hint.retryInMs).toBeGreaterThanOrEqual(500);
      expect(hint.retryInMs).toBeLessThan(2500);
    }
    expect(await nodesOf("usa-wss-1")).toBe(0);

    await sending;
    const report = await checker.settle(20_000);
    expect(report).toMatchObject({ sent: 60, lost: 0, duplicated: 0, outOfOrder: 0 });
    await eventually("clients on the other WSS", () =>
      clients.every((c) => c.connected && c.url === wss[1]),
    );
    await sys.local.restart("usa-wss-1");
  });
});
