// Groups in both fan-out modes: the group API, delivery to members in two
// regions, membership changes while members are connected, retries and the
// Redis publishes each mode costs. One suite, run once per mode.
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { MsgFrame } from "../../apps/client/client.ts";
import { FANOUT_MODES } from "../../regions/schema.ts";
import { eventually, TestSystem } from "../helpers/system.ts";

const SLOW = { timeout: 60_000 };

/** Redis PUBLISH commands served so far (INFO commandstats). */
async function publishes(r: Redis): Promise<number> {
  const info = await r.info("commandstats");
  const m = /cmdstat_publish:calls=(\d+)/.exec(info);
  return m ? Number(m[1]) : 0;
}

describe.each(FANOUT_MODES)("groups with %s fan-out", (fanout) => {
  let sys: TestSystem;
  let usaRedis: Redis;
  // Ids unique per mode: both suites may share nothing, but names stay readable.
  const tag = fanout === "per-user" ? "pu" : "pg";
  const u = (name: string, region = "usa") => `${tag}-${name}:${region}`;

  beforeAll(async () => {
    sys = await TestSystem.start({ fanout, wssPerRegion: 1 });
    usaRedis = sys.redis("usa");
  });
  afterAll(async () => {
    usaRedis?.disconnect();
    await sys?.stop();
  });

  it("creates a group, shows it to members only and lists each member's groups", async () => {
    const owner = u("own");
    const group = u("team");
    const created = await sys.api(owner, "POST", "/v1/groups", {
      id: group,
      members: [u("amy"), u("eve", "eu")],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: group,
      owner,
      members: [u("amy"), u("eve", "eu"), owner].sort(),
    });

    const shown = await sys.api(u("eve", "eu"), "GET", `/v1/groups/${group}`);
    expect(shown).toMatchObject({ status: 200, body: { id: group } });
    const mine = await sys.api(u("amy"), "GET", "/v1/groups");
    expect(mine.body).toEqual({ user: u("amy"), groups: [group] });

    const stranger = await sys.api(u("zed"), "GET", `/v1/groups/${group}`);
    expect(stranger.status).toBe(403);
    const missing = await sys.api(owner, "GET", `/v1/groups/${u("nope")}`);
    expect(missing.status).toBe(404);
  });

  it("rejects bad group requests with a message that says what to change", async () => {
    const owner = u("own2");
    const badId = await sys.api(owner, "POST", "/v1/groups", { id: "Team!:usa" });
    expect(badId.status).toBe(400);
    expect(String((badId.body.error as { message: string }).message)).toMatch(/^id name/);

    const badMember = await sys.api(owner, "POST", "/v1/groups", {
      id: u("t2"),
      members: ["bob:mars"],
    });
    expect(badMember.status).toBe(400);
    expect(JSON.stringify(badMember.body)).toContain("members[0]");

    await sys.createGroup(owner, u("t3"), [u("kim")]);
    const taken = await sys.api(u("kim"), "POST", "/v1/groups", { id: u("t3") });
    expect(taken.status).toBe(403);
    const notOwner = await sys.api(u("kim"), "POST", `/v1/groups/${u("t3")}/members`, {
      add: [u("lou")],
    });
    expect(notOwner.status).toBe(403);
    const ownerLeaves = await sys.api(owner, "POST", `/v1/groups/${u("t3")}/members`, {
      remove: [owner],
    });
    expect(ownerLeaves.status).toBe(400);
    const empty = await sys.api(owner, "POST", `/v1/groups/${u("t3")}/members`, {});
    expect(empty.status).toBe(400);

    // A member may leave by itself.
    const leaves = await sys.api(u("kim"), "POST", `/v1/groups/${u("t3")}/members`, {
      remove: [u("kim")],
    });
    expect(leaves).toMatchObject({ status: 200, body: { members: [owner] } });

    const outsider = await sys.post(u("kim"), { group: u("t3"), body: "hi" });
    expect(outsider.status).toBe(403);
    const both = await sys.post(owner, { to: u("kim"), group: u("t3"), body: "hi" });
    expect(both.status).toBe(400);
  });

  it(
    "delivers a group message to every member in both regions, in each one's order",
    SLOW,
    async () => {
      const members = [u("a1"), u("a2"), u("b1", "eu"), u("b2", "eu")];
      const group = u("chat");
      await sys.createGroup(members[0]!, group, members.slice(1));
      const clients = await Promise.all(members.map((m) => sys.client(m)));

      // A direct message first, so the group message takes each member's next sequence.
      await sys.post(members[1]!, { to: members[2]!, body: "direct" });
      const sent = await sys.post(members[0]!, {
        group,
        body: "hello group",
        clientMsgId: "g-1",
      });
      expect(sent).toMatchObject({
        status: 202,
        body: { recipients: 4, duplicate: false },
      });
      const viaSocket = await clients[3]!.sendGroup(group, "from a socket", "g-2");
      expect(viaSocket.id).toMatch(/^m_/);

      await eventually("every member has both group messages", () =>
        clients.every((c) => c.inbox.filter((m) => m.group === group).length === 2),
      );
      for (const [i, c] of clients.entries()) {
        const own = c.inbox.map((m: MsgFrame) => m.seq);
        expect(own).toEqual(own.map((_, k) => k + 1));
        const g = c.inbox.filter((m) => m.group === group);
        expect(g.map((m) => m.body)).toEqual(["hello group", "from a socket"]);
        expect(g.every((m) => m.to === members[i])).toBe(true);
        expect(g[0]!.id).toBe(sent.body.id);
      }

      // A retry is the same message: nobody gets it twice.
      const retry = await sys.post(members[0]!, {
        group,
        body: "hello group",
        clientMsgId: "g-1",
      });
      expect(retry).toMatchObject({
        status: 202,
        body: { id: sent.body.id, duplicate: true },
      });
      await new Promise((r) => setTimeout(r, 500));
      for (const c of clients)
        expect(c.inbox.filter((m) => m.group === group)).toHaveLength(2);
    },
  );

  it(
    "gives a member who was offline the group's messages when it connects",
    SLOW,
    async () => {
      const group = u("later");
      await sys.createGroup(u("c1"), group, [u("c2", "eu")]);
      await sys.post(u("c1"), { group, body: "while you were away" });
      const late = await sys.client(u("c2", "eu"));
      await eventually("the offline member got it", () => late.inbox.length === 1);
      expect(late.inbox[0]).toMatchObject({ group, body: "while you were away", seq: 1 });
    },
  );

  it(
    "follows membership changes of connected members without a reconnect",
    SLOW,
    async () => {
      const owner = u("d0");
      const joiner = u("d1");
      const group = u("moving");
      await sys.createGroup(owner, group, []);
      const c = await sys.client(joiner);

      await sys.api(owner, "POST", `/v1/groups/${group}/members`, { add: [joiner] });
      await sys.post(owner, { group, body: "welcome" });
      await eventually("the new member got the next message", () =>
        c.inbox.some((m) => m.body === "welcome"),
      );

      await sys.api(owner, "POST", `/v1/groups/${group}/members`, { remove: [joiner] });
      await sys.post(owner, { group, body: "after you left" });
      await sys.post(owner, { to: joiner, body: "direct after" });
      await eventually("the direct message arrived", () =>
        c.inbox.some((m) => m.body === "direct after"),
      );
      expect(c.inbox.map((m) => m.body)).toEqual(["welcome", "direct after"]);
    },
  );

  it(
    "ends with the group and the user's list agreeing after racing adds and removes",
    SLOW,
    async () => {
      const owner = u("r0");
      const racer = u("r1", "eu");
      const group = u("race");
      await sys.createGroup(owner, group, []);
      const c = await sys.client(racer);
      const change = (body: unknown) =>
        sys.api(owner, "POST", `/v1/groups/${group}/members`, body);
      for (let round = 0; round < 5; round++) {
        const [a, r] = await Promise.all([
          change({ add: [racer] }),
          change({ remove: [racer] }),
        ]);
        expect([a.status, r.status]).toEqual([200, 200]);
        const inGroup = (
          (await sys.api(owner, "GET", `/v1/groups/${group}`)).body.members as string[]
        ).includes(racer);
        const listed = (
          (await sys.api(racer, "GET", "/v1/groups")).body.groups as string[]
        ).includes(group);
        expect(listed).toBe(inGroup);
      }

      // Whatever the race left, a member added last gets the next message live.
      await change({ add: [racer] });
      await sys.post(owner, { group, body: "after the race" });
      await eventually("the member got it live", () =>
        c.inbox.some((m) => m.body === "after the race"),
      );
    },
  );

  it("never takes a group message for a direct one with the same clientMsgId", async () => {
    // A group may have the name of a user: the two messages are still two.
    const sender = u("s0");
    const namesake = u("s1");
    await sys.createGroup(sender, namesake, [namesake]);
    const c = await sys.client(namesake);
    const direct = await sys.post(sender, {
      to: namesake,
      body: "direct",
      clientMsgId: "same",
    });
    const grouped = await sys.post(sender, {
      group: namesake,
      body: "grouped",
      clientMsgId: "same",
    });
    expect(grouped.body).toMatchObject({ duplicate: false });
    expect(grouped.body.id).not.toBe(direct.body.id);
    await eventually("both arrived", () => c.inbox.length === 2);
    expect(c.inbox.map((m) => m.body)).toEqual(["direct", "grouped"]);
  });

  it("keeps each user's group list in the region's Redis", async () => {
    const group = u("listed");
    await sys.createGroup(u("e0"), group, [u("e1")]);
    await sys.client(u("e1"));
    if (fanout === "per-group") {
      // The WSS read the list when the user connected.
      expect((await usaRedis.smembers(`ug:${u("e1")}`)).sort()).toEqual([".", group]);
      const subscribed = await usaRedis.pubsub("CHANNELS", `g:${group}:usa`);
      expect(subscribed).toEqual([`g:${group}:usa`]);
    } else {
      expect(await usaRedis.pubsub("CHANNELS", `g:${group}:usa`)).toEqual([]);
    }
  });

  it(
    "publishes a group message once per region in per-group mode, once per member in per-user",
    SLOW,
    async () => {
      const members = Array.from({ length: 6 }, (_, i) => u(`p${i}`));
      const group = u("count");
      await sys.createGroup(members[0]!, group, members.slice(1));
      const clients = await Promise.all(members.map((m) => sys.client(m)));

      const before = await publishes(usaRedis);
      await sys.post(members[0]!, { group, body: "count me" });
      await eventually("everyone got it", () =>
        clients.every((c) => c.inbox.length === 1),
      );
      const published = (await publishes(usaRedis)) - before;
      expect(published).toBe(fanout === "per-group" ? 1 : members.length);
    },
  );
});
