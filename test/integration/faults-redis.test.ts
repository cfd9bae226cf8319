// Durable delivery through Redis faults: the region's Redis stopped and
// started, the subscriber connection killed, the pub/sub output-buffer limit
// hit by a burst. Subscriptions must come back and nothing may be lost,
// duplicated or reordered. One region (usa) with two WSSs. The suite runs once
// per fan-out mode; its traffic mixes direct messages with messages to a group.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DeliveryChecker } from "../../apps/checker/checker.ts";
import { ChatClient } from "../../apps/client/client.ts";
import { runSenders } from "../../apps/checker/senders.ts";
import { FANOUT_MODES } from "../../regions/schema.ts";
import { eventually, TestSystem } from "../helpers/system.ts";
import { expectWhole, mixedTraffic } from "../helpers/traffic.ts";

let sys: TestSystem;

/** A fresh admin connection to the region's Redis (it may have been restarted). */
async function admin<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(sys.region("usa").redis, {
    password: sys.secrets.redisPassword,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  r.on("error", () => undefined);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function subscribers(users: readonly string[]): Promise<number[]> {
  const res = (await admin((r) => r.pubsub("NUMSUB", ...users.map((u) => `u:${u}`)))) as (
    string | number
  )[];
  return res.filter((_, i) => i % 2 === 1).map(Number);
}

const users = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}:usa`);

describe.each(FANOUT_MODES)(
  "durable delivery through Redis faults (%s fan-out)",
  (fanout) => {
    beforeAll(async () => {
      sys = await TestSystem.start({ only: ["usa"], fanout });
    });
    afterAll(async () => {
      await sys?.stop();
    });

    it("resubscribes and delivers what was sent while Redis was down", async () => {
      const checker = new DeliveryChecker();
      const recipients = users("ro", 6);
      const clients = await sys.receivers(recipients, checker);
      expect(await subscribers(recipients)).toEqual([1, 1, 1, 1, 1, 1]);

      // Three phases (before, during and after the outage), each with its own senders.
      const phases = await Promise.all(
        ["rs0", "rs1", "rs2"].map((prefix) =>
          mixedTraffic(sys, {
            prefix,
            recipients,
            direct: 1,
            directCount: 30,
            grouped: 1,
            groupCount: 5,
          }),
        ),
      );
      const send = (i: number) =>
        runSenders({ send: sys.httpSend(), checker, plans: phases[i]!.plans });
      await send(0);
      await sys.local.signal("usa-redis", "SIGKILL");
      // Down for several of the apps' reconnect attempts (capped at 1 s apart).
      const outage = send(1);
      await new Promise((r) => setTimeout(r, 4000));
      await sys.local.restart("usa-redis");
      await outage;
      await send(2);

      const report = await checker.settle(20_000);
      const deliveries = phases.reduce((n, p) => n + p.deliveries, 0);
      expectWhole(report, deliveries);
      await eventually("every topic subscribed again", async () =>
        (await subscribers(recipients)).every((n) => n === 1),
      );
      // The sockets stayed up the whole time: Redis is not the client's problem.
      expect(clients.map((c) => c.connects)).toEqual([1, 1, 1, 1, 1, 1]);
    });

    it("refuses new sockets and membership changes with 503 while Redis is down", async () => {
      const owner = "down0:usa";
      await sys.createGroup(owner, "downg:usa", []);
      await sys.local.signal("usa-redis", "SIGKILL");
      try {
        await eventually("the WSS sees Redis gone", async () => {
          const res = await fetch(
            `${sys.region("usa").wss[0]!.replace("ws", "http").replace("/v1/ws", "")}/readyz`,
          );
          return res.status === 503;
        });
        const client = new ChatClient({
          urls: [sys.region("usa").wss[0]!],
          token: () => sys.token("down1:usa"),
          reconnect: false,
        });
        await expect(client.connect()).rejects.toThrow(
          /closed|503|Unexpected server response/,
        );
        client.close();

        const change = await sys.api(owner, "POST", "/v1/groups/downg:usa/members", {
          add: ["down1:usa"],
        });
        expect(change.status).toBe(503);
        expect(JSON.stringify(change.body)).toMatch(/stored.*retry/);
      } finally {
        await sys.local.restart("usa-redis");
      }
      // The change was stored; retried, it is announced too.
      await eventually(
        "the retried change goes through",
        async () => {
          const again = await sys.api(owner, "POST", "/v1/groups/downg:usa/members", {
            add: ["down1:usa"],
          });
          return again.status === 200;
        },
        20_000,
      );
    });

    it("puts a message on the socket once after Redis comes back", async () => {
      const [probe] = await sys.receivers(["once:usa"], new DeliveryChecker());
      for (let round = 0; round < 2; round++) {
        await sys.local.signal("usa-redis", "SIGKILL");
        await sys.local.restart("usa-redis");
        await eventually(
          "subscribed again",
          async () => (await subscribers(["once:usa"]))[0] === 1,
        );
      }
      const frames: string[] = [];
      probe!.on("msg", (m: { id: string }) => frames.push(m.id));
      const res = await sys.post("s:usa", {
        to: "once:usa",
        body: "just once",
        clientMsgId: "o1",
      });
      expect(res.status).toBe(202);
      await eventually("received", () => frames.length >= 1);
      await new Promise((r) => setTimeout(r, 500));
      expect(frames).toEqual([res.body.id]);
    });

    it("recovers when Redis kills the subscriber (CLIENT KILL TYPE pubsub)", async () => {
      const checker = new DeliveryChecker();
      const recipients = users("kk", 6);
      await sys.receivers(recipients, checker);

      const traffic = await mixedTraffic(sys, {
        prefix: "ks",
        recipients,
        direct: 2,
        directCount: 40,
        grouped: 1,
        groupCount: 40,
      });
      const sending = runSenders({
        send: sys.httpSend(),
        checker,
        plans: traffic.plans,
        onAccepted: (n) => {
          if (n === 40 || n === 80) {
            void admin((r) => r.call("CLIENT", "KILL", "TYPE", "pubsub"));
          }
        },
      });
      await sending;
      const report = await checker.settle(20_000);
      expectWhole(report, traffic.deliveries);
      await eventually("subscriptions back", async () =>
        (await subscribers(recipients)).every((n) => n === 1),
      );
    });

    it("recovers when a burst passes the pub/sub output-buffer limit", async () => {
      const checker = new DeliveryChecker();
      const recipients = users("ob", 4);
      const wss1 = sys.region("usa").wss[0]!;
      await sys.receivers(recipients, checker, { urls: [wss1] });
      const burstGroup = "obg:usa";
      const groupSenders = Array.from({ length: 8 }, (_, i) => `gburst${i}:usa`);
      await sys.createGroup(groupSenders[0]!, burstGroup, [
        ...recipients,
        ...groupSenders.slice(1),
      ]);
      await admin((r) =>
        r.config("SET", "client-output-buffer-limit", "pubsub 256kb 128kb 1"),
      );
      try {
        // With the WSS paused nothing is read from its subscriber socket: real
        // messages, then a few MB of junk on one topic, overflow the limit and
        // Redis drops the subscriber.
        await sys.local.signal("usa-wss-1", "SIGSTOP");
        const body = "x".repeat(8000);
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            // One sender per message: their relative order is the inbox's to decide.
            sys.post(`burst${i}:usa`, {
              to: recipients[i % 4],
              body,
              clientMsgId: `b${i}`,
            }),
          ),
        );
        for (const [i, r] of results.entries())
          checker.sent(recipients[i % 4]!, String(r.body.id));
        expect(results.every((r) => r.status === 202)).toBe(true);
        // And group messages, one sender each, which every recipient gets.
        const grouped = await Promise.all(
          groupSenders.map((from, i) =>
            sys.post(from, { group: burstGroup, body, clientMsgId: `gb${i}` }),
          ),
        );
        expect(grouped.every((r) => r.status === 202)).toBe(true);
        for (const r of grouped) {
          for (const to of recipients) checker.sent(to, String(r.body.id));
        }
        const junk = "j".repeat(1024 * 1024);
        await admin(async (r) => {
          for (let i = 0; i < 8; i++) await r.publish(`u:${recipients[0]}`, junk);
        });
        const log = join(sys.local.options.dir, "usa-redis", "redis.log");
        await eventually("redis drops the subscriber", () =>
          readFileSync(log, "utf8").includes("overcoming of output buffer limits"),
        );
      } finally {
        await sys.local.signal("usa-wss-1", "SIGCONT");
        await admin((r) =>
          r.config("SET", "client-output-buffer-limit", "pubsub 32mb 8mb 60"),
        );
      }

      const report = await checker.settle(20_000);
      expectWhole(report, 40 + 8 * recipients.length);
    });
  },
);
