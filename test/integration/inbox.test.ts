// The inbox against a real DynamoDB-compatible server: sequences without gaps
// and idempotent appends, with several writers racing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { dynamoClient, Inbox } from "../../apps/shared/inbox.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

let dynamo: TestDynamo;
let endpoint: string;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  endpoint = dynamo.endpoint;
});
afterAll(async () => {
  await dynamo?.stop();
});

/** As the apps open it: on a client that resolves each command's middleware once. */
const openInbox = () =>
  new Inbox(dynamoClient(endpoint, "local", { cacheMiddleware: true }));

const entry = (id: string) => ({ id, from: "a:usa", to: "r:eu", body: id, sentAt: 1 });

describe("inbox", () => {
  it("numbers a recipient's messages 1, 2, 3 and reads them back in order", async () => {
    const inbox = openInbox();
    for (const id of ["m1", "m2", "m3"]) await inbox.append("one:eu", entry(id));
    const read = await inbox.read("one:eu", 0);
    expect(read.map((e) => [e.seq, e.id])).toEqual([
      [1, "m1"],
      [2, "m2"],
      [3, "m3"],
    ]);
    expect(await inbox.read("one:eu", 2)).toHaveLength(1);
    expect(await inbox.tail("one:eu")).toBe(3);
  });

  it("gives racing writers with stale caches one gapless sequence, each message once", async () => {
    const writers = Array.from({ length: 4 }, () => openInbox());
    const ids = Array.from({ length: 60 }, (_, i) => `c${i}`);
    // Every message is appended by two writers at once (a retry racing the original).
    await Promise.all(
      ids.flatMap((id, i) => [
        writers[i % 4]!.append("many:eu", entry(id)),
        writers[(i + 1) % 4]!.append("many:eu", entry(id)),
      ]),
    );
    const read = await openInbox().read("many:eu", 0, 1000);
    expect(read.map((e) => e.seq)).toEqual(ids.map((_, i) => i + 1));
    expect(new Set(read.map((e) => e.id)).size).toBe(ids.length);
  });

  it("returns the first slot for a retried append, long after", async () => {
    const a = openInbox();
    const b = openInbox();
    const first = await a.append("retry:eu", entry("x1"));
    await a.append("retry:eu", entry("x2"));
    const again = await b.append("retry:eu", entry("x1"));
    expect(first).toEqual({ seq: 1, duplicate: false });
    expect(again).toEqual({ seq: 1, duplicate: true });
    expect(await a.tail("retry:eu")).toBe(2);
  });

  it("reads past DynamoDB's 1 MB page limit", async () => {
    const inbox = openInbox();
    const big = "b".repeat(8000);
    for (let i = 0; i < 160; i++) {
      await inbox.append("big:eu", { ...entry(`b${i}`), body: big });
    }
    const read = await inbox.read("big:eu", 0, 150);
    expect(read.map((e) => e.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(await inbox.read("big:eu", 150, 150)).toHaveLength(10);
  });

  it("finds a tail from point reads, querying only past unacknowledged entries", async () => {
    const seed = openInbox();
    for (const id of ["t1", "t2", "t3"]) await seed.append("caught-up:eu", entry(id));
    await seed.ack("caught-up:eu", 3);
    for (const id of ["u1", "u2", "u3"]) await seed.append("behind:eu", entry(id));
    await seed.ack("behind:eu", 1);

    // A chat server that has not stored for these recipients yet.
    const client = dynamoClient(endpoint, "local");
    const commands: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(String(context.commandName));
        return next(args);
      },
      { step: "initialize" },
    );
    const fresh = new Inbox(client);
    const queries = () => commands.filter((c) => c === "QueryCommand").length;

    expect(await fresh.append("new:eu", entry("n1"))).toEqual({
      seq: 1,
      duplicate: false,
    });
    expect(await fresh.append("caught-up:eu", entry("t4"))).toEqual({
      seq: 4,
      duplicate: false,
    });
    expect(queries()).toBe(0);
    expect(await fresh.append("behind:eu", entry("u4"))).toEqual({
      seq: 4,
      duplicate: false,
    });
    expect(queries()).toBe(1);
    expect((await fresh.read("behind:eu", 0)).map((e) => e.id)).toEqual([
      "u1",
      "u2",
      "u3",
      "u4",
    ]);
  });

  it("moves the acknowledged cursor forward only", async () => {
    const inbox = openInbox();
    for (const id of ["a1", "a2", "a3"]) await inbox.append("acks:eu", entry(id));
    expect(await inbox.ack("acks:eu", 2)).toBe(true);
    expect(await inbox.ack("acks:eu", 1)).toBe(false);
    expect(await inbox.acked("acks:eu")).toBe(2);
  });
});
