// Durable delivery through process faults: a WSS killed, a WSS's ZooKeeper
// session expired, a client vanished, the chat server restarted. Each test runs
// synthetic senders and a checker and asserts nothing lost, duplicated or out
// of order. One region (usa) with two WSSs. The suite runs once per fan-out
// mode; its traffic mixes direct messages with messages to a group.
import { spawn } from "node:child_process";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DeliveryChecker } from "../../apps/checker/checker.ts";
import { runSenders } from "../../apps/checker/senders.ts";
import { PROJECT_ROOT } from "../../apps/local/runtime.ts";
import { listPresence } from "../../apps/shared/presence.ts";
import type { ZkSession } from "../../apps/shared/zk.ts";
import { FANOUT_MODES } from "../../regions/schema.ts";
import { eventually, FAST_APP_ENV, TestSystem } from "../helpers/system.ts";
import { expectWhole, mixedTraffic } from "../helpers/traffic.ts";

let sys: TestSystem;
let zk: ZkSession;

/** Presence nodes in the region's ZooKeeper, as `user~wss~conn` names. */
const presenceNodes = () => listPresence(zk);

/** These tests push real traffic through restarts: give them room on a loaded machine. */
const SLOW = { timeout: 150_000 };

const users = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}:usa`);

describe.each(FANOUT_MODES)(
  "durable delivery through process faults (%s fan-out)",
  (fanout) => {
    beforeAll(async () => {
      sys = await TestSystem.start({ only: ["usa"], fanout });
      zk = await sys.zk("usa");
    });
    afterAll(async () => {
      zk?.close();
      await sys?.stop();
    });
    it(
      "loses nothing when a WSS is SIGKILLed while 20 users receive direct and group messages",
      SLOW,
      async () => {
        const checker = new DeliveryChecker();
        const recipients = users("kr", 20);
        const wss = sys.region("usa").wss;
        // Everyone starts on WSS 1 and moves to WSS 2 when it dies.
        const clients = await sys.receivers(recipients, checker, {
          urls: [wss[0]!, wss[1]!],
        });

        let killed = false;
        try {
          await killMidStream();
        } finally {
          // Whatever happened, the next tests get both WSSs back.
          await sys.local.restart("usa-wss-1");
        }

        async function killMidStream() {
          const traffic = await mixedTraffic(sys, {
            prefix: "ks",
            recipients,
            direct: 8,
            directCount: 100,
            grouped: 2,
            groupCount: 20,
          });
          const sending = runSenders({
            send: sys.httpSend(),
            checker,
            plans: traffic.plans,
            onAccepted: (n) => {
              if (n === 300 && !killed) {
                killed = true;
                void sys.local.signal("usa-wss-1", "SIGKILL");
              }
            },
          });
          const sent = await sending;
          expect(sent).toMatchObject({ accepted: traffic.sends, failed: 0 });
          expect(killed).toBe(true);

          const report = await checker.settle(30_000);
          expectWhole(report, traffic.deliveries);
          expect(clients.every((c) => c.connects === 2 && c.url === wss[1])).toBe(true);

          // The dead WSS's presence goes with its ZooKeeper session: no ghosts.
          await eventually(
            "presence of the killed WSS expires",
            async () => !(await presenceNodes()).some((n) => n.includes("~usa-wss-1~")),
            15_000,
          );
        }
      },
    );

    it(
      "registers every still-connected user again after the WSS's ZooKeeper session expires",
      SLOW,
      async () => {
        const checker = new DeliveryChecker();
        const recipients = users("zr", 5);
        const wss2 = sys.region("usa").wss[1]!;
        const clients = await sys.receivers(recipients, checker, { urls: [wss2] });
        const before = (await presenceNodes()).filter((n) => n.startsWith("zr"));
        expect(before).toHaveLength(5);

        // Pausing the process past the session timeout expires its session.
        await sys.local.signal("usa-wss-2", "SIGSTOP");
        const timeout = Number(FAST_APP_ENV.CHAT_ZK_SESSION_TIMEOUT_MS);
        await eventually(
          "the session expires and its nodes go",
          async () =>
            (await presenceNodes()).filter((n) => n.startsWith("zr")).length === 0,
          timeout * 3,
        );
        await sys.local.signal("usa-wss-2", "SIGCONT");

        await eventually(
          "presence is back for every connected user",
          async () => {
            const nodes = (await presenceNodes()).filter((n) => n.startsWith("zr"));
            const connected = clients.filter((c) => c.connected).length;
            return connected === 5 && nodes.length === 5;
          },
          15_000,
        );

        // The same connections as before: registered again, not reconnected.
        expect(clients.map((c) => c.connects)).toEqual([1, 1, 1, 1, 1]);

        const traffic = await mixedTraffic(sys, {
          prefix: "zs",
          recipients,
          direct: 1,
          directCount: 50,
          grouped: 1,
          groupCount: 10,
        });
        await runSenders({ send: sys.httpSend(), checker, plans: traffic.plans });
        const report = await checker.settle(15_000);
        expectWhole(report, traffic.deliveries);
      },
    );

    it(
      "drops a vanished client within two heartbeats and keeps its messages in the inbox",
      SLOW,
      async () => {
        const user = "vanish:usa";
        const child = spawn(
          process.execPath,
          [
            "--import",
            "tsx",
            join(PROJECT_ROOT, "test/fixtures/client-process.ts"),
            sys.region("usa").wss[0]!,
            await sys.token(user),
          ],
          { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "inherit"] },
        );
        try {
          await new Promise<void>((resolve, reject) => {
            child.stdout!.once("data", () => resolve());
            child.once("exit", (code) =>
              reject(new Error(`client process exited (${code})`)),
            );
          });
          await eventually("presence node", async () =>
            (await presenceNodes()).some((n) => n.startsWith(`${user}~`)),
          );

          child.kill("SIGSTOP");
          const stoppedAt = Date.now();
          const heartbeat = Number(FAST_APP_ENV.CHAT_HEARTBEAT_MS);
          await eventually(
            "presence removed",
            async () => !(await presenceNodes()).some((n) => n.startsWith(`${user}~`)),
            heartbeat * 4,
          );
          // Two intervals, plus the time one ZooKeeper delete and our polling take.
          expect(Date.now() - stoppedAt).toBeLessThan(heartbeat * 2 + 500);

          const res = await sys.post("sender:usa", {
            to: user,
            body: "while away",
            clientMsgId: "va1",
          });
          expect(res.status).toBe(202);
          const waiting = await sys.inbox().read(user, 0);
          expect(waiting.map((e) => e.body)).toEqual(["while away"]);
        } finally {
          child.kill("SIGKILL");
        }
      },
    );

    it(
      "loses nothing when the chat server restarts mid-stream and sends are retried",
      SLOW,
      async () => {
        const checker = new DeliveryChecker();
        const recipients = users("cr", 5);
        await sys.receivers(recipients, checker);

        const traffic = await mixedTraffic(sys, {
          prefix: "cs",
          recipients,
          direct: 4,
          directCount: 60,
          grouped: 1,
          groupCount: 40,
        });
        let restarted: Promise<void> | undefined;
        const result = await runSenders({
          send: sys.httpSend(),
          checker,
          plans: traffic.plans,
          onAccepted: (n) => {
            if (n === 100 && !restarted) {
              restarted = sys.local
                .signal("usa-cs", "SIGKILL")
                .then(() => sys.local.restart("usa-cs"));
            }
          },
        });
        await restarted;
        expect(result.accepted).toBe(traffic.sends);
        expect(result.retries).toBeGreaterThan(0);

        const report = await checker.settle(20_000);
        expectWhole(report, traffic.deliveries);
      },
    );
  },
);
