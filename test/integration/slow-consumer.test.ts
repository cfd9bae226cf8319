// One client stops reading while 50 others receive: the WSS stops feeding the
// slow socket past its buffer cap (memory stays bounded), the 50 keep
// receiving everything, and the slow one gets everything, in order, once it
// reads again (from the inbox).
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";

import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { MsgFrame } from "../../apps/client/client.ts";
import { DeliveryChecker } from "../../apps/checker/checker.ts";
import { runSenders } from "../../apps/checker/senders.ts";
import { eventually, TestSystem } from "../helpers/system.ts";

let sys: TestSystem;

beforeAll(async () => {
  sys = await TestSystem.start({
    only: ["usa"],
    wssPerRegion: 1,
    appEnv: {
      // A socket that is not read cannot answer pings either: keep heartbeats
      // out of the way so the buffer cap is what acts.
      CHAT_HEARTBEAT_MS: "120000",
      CHAT_MAX_BUFFERED_BYTES: String(512 * 1024),
      CHAT_SLOW_CLOSE_MS: "120000",
    },
  });
});
afterAll(async () => {
  await sys?.stop();
});

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

describe("a client that stops reading", () => {
  it(
    "costs only itself: bounded memory, others unaffected, nothing lost",
    { timeout: 180_000 },
    async () => {
      const fast = new DeliveryChecker();
      const fastUsers = Array.from({ length: 50 }, (_, i) => `fast${i}:usa`);
      await sys.receivers(fastUsers, fast);

      const slow = new DeliveryChecker();
      slow.watch("slow:usa");
      const ws = new WebSocket(sys.region("usa").wss[0]!, {
        headers: { authorization: `Bearer ${await sys.token("slow:usa")}` },
      });
      ws.on("message", (data) => {
        const f = JSON.parse(String(data)) as MsgFrame;
        if (f.type === "msg") slow.received("slow:usa", f);
      });
      await new Promise<void>((r) => ws.once("message", () => r()));
      ws.send('{"type":"resume","after":0}');
      const socket = (ws as unknown as { _socket: Socket })._socket;
      socket.pause();

      const wss = sys.local.get("usa-wss-1").proc.pid!;
      const before = rssBytes(wss);
      const body = "s".repeat(8000);
      const slowSends = Array.from({ length: 10 }, (_, i) => ({
        from: `pour${i}:usa`,
        to: ["slow:usa"],
        count: 200,
      }));
      const [slowResult] = await Promise.all([
        runSenders({
          send: (from, to, _b, id) => sys.httpSend()(from, to, body, id),
          checker: slow,
          plans: slowSends,
        }),
        runSenders({
          send: sys.httpSend(),
          checker: fast,
          plans: Array.from({ length: 5 }, (_, i) => ({
            from: `drip${i}:usa`,
            to: fastUsers,
            count: 100,
          })),
          intervalMs: 5,
        }),
      ]);
      expect(slowResult).toMatchObject({ accepted: 2000 });

      // The 50 got everything while the slow one was stuck.
      const fastReport = await fast.settle(20_000);
      expect(fastReport).toMatchObject({
        sent: 500,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
      });
      expect(slow.complete).toBe(false);

      // 16 MB went to a socket that read nothing; the WSS kept at most its cap
      // of it (plus the frame that crossed it), the rest stays in the inbox.
      const httpBase = sys
        .region("usa")
        .wss[0]!.replace("ws://", "http://")
        .replace("/v1/ws", "");
      const metrics = await (await fetch(`${httpBase}/metrics`)).text();
      expect(metrics).toMatch(
        /chat_wss_slow_consumer_events_total\{action="paused"[^}]*\} [1-9]/,
      );
      const buffered = Number(
        /chat_wss_socket_buffered_bytes\{[^}]*\} (\d+)/.exec(metrics)![1],
      );
      expect(buffered).toBeLessThan(512 * 1024 + 16 * 1024);
      // Resident memory (garbage included) grew by less than twice what was sent:
      // a sanity bound; the gauge above is the measure of what is held.
      expect(rssBytes(wss) - before).toBeLessThan(32 * 1024 * 1024);

      socket.resume();
      const slowReport = await slow.settle(60_000);
      expect(slowReport).toMatchObject({
        sent: 2000,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
      });
      await eventually("socket still open", () => ws.readyState === WebSocket.OPEN);
      ws.close();
    },
  );
});
