// Two regions end to end: usa and eu, each with its own Redis, ZooKeeper, two
// WSSs and a chat server, one inbox store.
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DeliveryChecker } from "../../apps/checker/checker.ts";
import { runSenders } from "../../apps/checker/senders.ts";
import { PRESENCE_ROOT, bucketOf } from "../../apps/shared/presence.ts";
import { openRaw } from "../helpers/raw.ts";
import { eventually, TestSystem } from "../helpers/system.ts";

let sys: TestSystem;

beforeAll(async () => {
  sys = await TestSystem.start();
});
afterAll(async () => {
  await sys?.stop();
});

describe("chat across regions", () => {
  it("delivers alice:usa to bob:eu and back over the socket", async () => {
    const alice = await sys.client("alice:usa");
    const bob = await sys.client("bob:eu");

    const { id } = await alice.send("bob:eu", "hello bob");
    await eventually("bob receives", () => bob.inbox.length === 1);
    expect(bob.inbox[0]).toMatchObject({
      seq: 1,
      id,
      from: "alice:usa",
      to: "bob:eu",
      body: "hello bob",
    });

    await bob.send("alice:usa", "hello alice");
    await eventually("alice receives", () => alice.inbox.length === 1);
    expect(alice.inbox[0]).toMatchObject({ seq: 1, from: "bob:eu", body: "hello alice" });
  });

  it("connects through the next WSS when the first one is down", async () => {
    const down = "ws://127.0.0.1:1/v1/ws";
    const pia = await sys.client("pia:usa", { urls: [down, sys.region("usa").wss[0]!] });
    expect(pia.connected).toBe(true);
    expect(pia.url).toBe(sys.region("usa").wss[0]);
  });

  it("delivers over the HTTP API in both directions", async () => {
    const carol = await sys.client("carol:usa");
    const dave = await sys.client("dave:eu");

    const sent = await sys.post("carol:usa", {
      to: "dave:eu",
      body: "via http",
      clientMsgId: "c1",
    });
    expect(sent.status).toBe(202);
    expect(sent.body.id).toMatch(/^m_/);
    const back = await sys.post("dave:eu", {
      to: "carol:usa",
      body: "and back",
      clientMsgId: "d1",
    });
    expect(back.status).toBe(202);

    await eventually(
      "both receive",
      () => dave.inbox.length === 1 && carol.inbox.length === 1,
    );
    expect(dave.inbox[0]).toMatchObject({
      id: sent.body.id,
      from: "carol:usa",
      body: "via http",
    });
    expect(carol.inbox[0]).toMatchObject({ from: "dave:eu", body: "and back" });
  });

  it("delivers to every device of a user, on different WSSs", async () => {
    const eu = sys.region("eu");
    const phone = await sys.client("erin:eu", { urls: [eu.wss[0]!] });
    const laptop = await sys.client("erin:eu", { urls: [eu.wss[1]!] });

    await sys.post("frank:usa", { to: "erin:eu", body: "to both", clientMsgId: "f1" });
    await eventually(
      "both devices receive",
      () => phone.inbox.length === 1 && laptop.inbox.length === 1,
    );
    expect(phone.inbox[0]!.id).toBe(laptop.inbox[0]!.id);
  });

  it("keeps messages for an offline recipient and delivers them on connect, in order", async () => {
    for (let i = 1; i <= 5; i++) {
      const res = await sys.post("gina:usa", {
        to: "hank:eu",
        body: `m${i}`,
        clientMsgId: `g${i}`,
      });
      expect(res.status).toBe(202);
    }
    const hank = await sys.client("hank:eu");
    await eventually("hank receives the backlog", () => hank.inbox.length === 5);
    expect(hank.inbox.map((m) => [m.seq, m.body])).toEqual([
      [1, "m1"],
      [2, "m2"],
      [3, "m3"],
      [4, "m4"],
      [5, "m5"],
    ]);
  });

  it("treats a retried send with the same clientMsgId as one message", async () => {
    const ivan = await sys.client("ivan:usa");
    const first = await sys.post("jill:eu", {
      to: "ivan:usa",
      body: "once",
      clientMsgId: "retry-1",
    });
    const again = await sys.post("jill:eu", {
      to: "ivan:usa",
      body: "once",
      clientMsgId: "retry-1",
    });
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.duplicate).toBe(true);

    await sys.post("jill:eu", { to: "ivan:usa", body: "next", clientMsgId: "retry-2" });
    await eventually("ivan receives two", () => ivan.inbox.length === 2);
    await new Promise((r) => setTimeout(r, 300));
    expect(ivan.inbox.map((m) => m.body)).toEqual(["once", "next"]);
  });

  it("resumes after the last sequence the client holds", async () => {
    for (let i = 1; i <= 4; i++) {
      await sys.post("kate:usa", { to: "liam:usa", body: `r${i}`, clientMsgId: `k${i}` });
    }
    const liam = await sys.client("liam:usa", { after: 2 });
    await eventually("liam receives 3 and 4", () => liam.inbox.length === 2);
    expect(liam.inbox.map((m) => m.seq)).toEqual([3, 4]);
  });

  it("refuses to resume past the last message of the inbox, and says where to", async () => {
    for (let i = 1; i <= 2; i++) {
      await sys.post("kate:usa", {
        to: "mona:usa",
        body: `a${i}`,
        clientMsgId: `ka${i}`,
      });
    }
    const wss = sys.region("usa").wss[0]!;
    const token = await sys.token("mona:usa");
    // By the URL, and by the resume frame; 2 itself is held, so resuming after it is fine.
    for (const after of [3, 50]) {
      const out = await openRaw(`${wss}?after=${after}`, token);
      const error = await out.raw!.nextError();
      expect(error).toMatchObject({ code: "RESUME_AHEAD" });
      expect(String(error.message)).toContain(`resume after ${after} is past`);
      expect((await out.raw!.closed).code).toBe(4009);
    }
    const framed = await openRaw(wss, token);
    framed.raw!.ws.send(JSON.stringify({ type: "resume", after: 9 }));
    expect(await framed.raw!.nextError()).toMatchObject({ code: "RESUME_AHEAD" });
    expect((await framed.raw!.closed).code).toBe(4009);
    const held = await openRaw(`${wss}?after=2`, token);
    await sys.post("kate:usa", { to: "mona:usa", body: "a3", clientMsgId: "ka3" });
    await eventually("the next message arrives", () =>
      held.raw!.frames.some((f) => f.type === "msg" && f.seq === 3),
    );
    held.raw!.ws.close();
  });

  it("starts a client whose cursor is past the inbox again from its acked cursor", async () => {
    await sys.post("kate:usa", { to: "nina:usa", body: "n1", clientMsgId: "kn1" });
    // A device that kept its cursor (40) from before the inbox was emptied.
    const nina = await sys.client("nina:usa", { after: 40 });
    const resets: number[][] = [];
    nina.on("cursor-reset", (from: number, to: number) => resets.push([from, to]));
    await eventually("nina receives the stored message", () => nina.inbox.length === 1);
    await sys.post("kate:usa", { to: "nina:usa", body: "n2", clientMsgId: "kn2" });
    await eventually("and the next one", () => nina.inbox.length === 2);
    expect(nina.inbox.map((m) => [m.seq, m.body])).toEqual([
      [1, "n1"],
      [2, "n2"],
    ]);
    expect(resets).toEqual([[40, 0]]);
  });

  it("gives interleaved senders from two regions one order: the recipient's sequence", async () => {
    const checker = new DeliveryChecker();
    await sys.receivers(["sofia:eu"], checker);
    await runSenders({
      send: sys.httpSend(),
      checker,
      plans: [
        { from: "tom:usa", to: ["sofia:eu"], count: 100 },
        { from: "uma:eu", to: ["sofia:eu"], count: 100 },
        { from: "vic:usa", to: ["sofia:eu"], count: 100 },
      ],
    });
    const report = await checker.settle(20_000);
    expect(report).toMatchObject({ sent: 300, lost: 0, duplicated: 0, outOfOrder: 0 });
    const stored = await sys.inbox().read("sofia:eu", 0, 1000);
    expect(stored.map((e) => e.seq)).toEqual(
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
  });

  it("records acknowledgements in the inbox through the queue", async () => {
    const mona = await sys.client("mona:eu");
    await sys.post("nick:usa", { to: "mona:eu", body: "ack me", clientMsgId: "n1" });
    await eventually("mona receives", () => mona.inbox.length === 1);
    const inbox = sys.inbox();
    await eventually("ack stored", async () => (await inbox.acked("mona:eu")) === 1);
  });

  it("registers each connection in the region's ZooKeeper and removes it on close", async () => {
    const zk = await sys.zk("usa");
    try {
      const bucket = `${PRESENCE_ROOT}/${bucketOf("olga:usa")}`;
      const mine = async () =>
        (await zk.watchChildren(bucket, () => undefined)).filter((n) =>
          n.startsWith("olga:usa~"),
        );

      const olga = await sys.client("olga:usa");
      await eventually("presence node", async () => (await mine()).length === 1);
      const [node] = await mine();
      const data = JSON.parse(await zk.get(`${bucket}/${node}`)) as Record<
        string,
        unknown
      >;
      expect(data).toMatchObject({
        user: "olga:usa",
        topic: "u:olga:usa",
        region: "usa",
      });
      expect(String(data.wss)).toMatch(/^usa-wss-/);
      expect(typeof data.conn).toBe("string");
      expect(typeof data.at).toBe("number");

      olga.close();
      await eventually("presence node removed", async () => (await mine()).length === 0);
    } finally {
      zk.close();
    }
  });
});

describe("bad input", () => {
  it("rejects an undeclared region or malformed id before using it", async () => {
    const cases = [
      "pat:mars",
      "../etc:usa",
      "Pat:usa",
      "pat/x:usa",
      "pat",
      "a:b:usa",
      `${"x".repeat(65)}:usa`,
    ];
    for (const to of cases) {
      const res = await sys.post("quinn:usa", { to, body: "x", clientMsgId: "bad" });
      expect(res.status, to).toBe(400);
      expect(res.body).toMatchObject({ error: { code: "BAD_ID" } });
    }
  });

  it("answers a bad send frame with an error frame and keeps the socket", async () => {
    const rita = await sys.client("rita:usa");
    const errors: Record<string, unknown>[] = [];
    rita.on("error-frame", (f: Record<string, unknown>) => errors.push(f));
    await expect(rita.send("nobody:mars", "x", "bad-1")).rejects.toThrow(/BAD_ID/);
    rita.raw("not json");
    await eventually("error frame", () => errors.some((e) => e.code === "BAD_FRAME"));
    expect(rita.connected).toBe(true);
  });

  it("refuses a connection without a valid token with 401", async () => {
    const url = sys.region("usa").wss[0]!;
    const statuses = await Promise.all(
      [undefined, "garbage", await sys.token("nobody:mars")].map(
        (token) =>
          new Promise<number>((resolve) => {
            const ws = new WebSocket(token ? `${url}?token=${token}` : url);
            ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
            ws.on("open", () => resolve(101));
            ws.on("error", () => undefined);
          }),
      ),
    );
    expect(statuses).toEqual([401, 401, 401]);
  });
});
