// A reconnect that names where it resumes: whether the inbox holds that point
// and whether anything follows it are read in the same batch as the
// acknowledged cursor, before the cursor starts. A message stored after that
// read and published before the start must still reach the socket, and a
// point past the inbox's last message is refused.
import type { WebSocket } from "ws";
import { describe, expect, it } from "vitest";

import { loadRegions } from "../../regions/schema.ts";
import type { Inbox, InboxEntry } from "../../apps/shared/inbox.ts";
import { silentLogger } from "../../apps/shared/logger.ts";
import { msgFrame } from "../../apps/shared/message.ts";
import { wssMetrics } from "../../apps/shared/metrics.ts";
import { RateLimiter } from "../../apps/shared/rate-limit.ts";
import { Connection, type ConnectionDeps } from "../../apps/wss/connection.ts";
import type { Hub } from "../../apps/wss/hub.ts";
import type { PresenceRegistrar } from "../../apps/shared/presence.ts";
import { SetupGate } from "../../apps/wss/setup-gate.ts";

const USER = "alice:usa";

function entry(seq: number): InboxEntry {
  return { seq, id: `m${seq}`, from: "bob:usa", to: USER, body: `b${seq}`, sentAt: 1 };
}

/** An inbox holding entries 1..n whose acknowledged-cursor read waits for `release`. */
function fakeInbox(stored: number, acked: number) {
  const entries = new Map<number, InboxEntry>();
  for (let s = 1; s <= stored; s++) entries.set(s, entry(s));
  let release!: () => void;
  const ackedRead = new Promise<number>((r) => (release = () => r(acked)));
  const calls = { hasAfter: 0, read: 0 };
  const inbox = {
    acked: () => ackedRead,
    // Answers from what is stored when it is asked.
    hasAfter: (_user: string, after: number) => {
      calls.hasAfter++;
      return Promise.resolve(entries.has(after + 1));
    },
    read: (_user: string, after: number) => {
      calls.read++;
      return Promise.resolve([...entries.values()].filter((e) => e.seq > after));
    },
  };
  return { inbox, entries, release, calls };
}

function fakeSocket() {
  const frames: { type: string; seq?: number; code?: string }[] = [];
  const closes: number[] = [];
  const ws = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    send: (f: string) => frames.push(JSON.parse(f) as { type: string; seq?: number }),
    close: (code: number) => closes.push(code),
  };
  return { ws: ws as unknown as WebSocket, frames, closes };
}

function deps(inbox: unknown): ConnectionDeps {
  return {
    wssId: "usa-wss-1",
    region: "usa",
    regions: loadRegions(),
    inbox: inbox as Inbox,
    hub: { join: async () => undefined, leave: () => undefined } as unknown as Hub,
    presence: {
      register: async () => undefined,
      unregister: async () => undefined,
    } as unknown as PresenceRegistrar,
    sendToCs: async () => ({ id: "x" }),
    ack: () => undefined,
    log: silentLogger(),
    metrics: wssMetrics({ wss: "usa-wss-1", region: "usa" }),
    userSends: new RateLimiter({ rate: 10, burst: 10 }),
    connFrames: new RateLimiter({ rate: 100, burst: 100 }),
    maxBufferedBytes: 1 << 20,
    slowCloseMs: 1000,
    resumeWaitMs: 1000,
    setups: new SetupGate(4),
    inflight: new Set(),
  };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe("resuming a reconnect", () => {
  it("reads nothing more when nothing follows the resume point", async () => {
    const { inbox, release, calls } = fakeInbox(5, 5);
    const { ws, frames } = fakeSocket();
    const conn = new Connection(ws, USER, deps(inbox));
    const opened = conn.open(5);
    await settle();
    release();
    await opened;
    await settle();

    expect(frames.map((f) => f.type)).toEqual(["hello"]);
    // Two keys (slot 5 held, slot 6 empty), asked with the cursor; nothing after.
    expect(calls).toEqual({ hasAfter: 2, read: 0 });
    await conn.close();
  });

  it("delivers a message published between that read and the start", async () => {
    const { inbox, entries, release, calls } = fakeInbox(5, 5);
    const { ws, frames } = fakeSocket();
    const conn = new Connection(ws, USER, deps(inbox));
    const opened = conn.open(5);
    await settle();
    expect(calls.hasAfter).toBe(2); // asked with the cursor: nothing after 5 yet

    // Stored, then published while the cursor read is still out.
    entries.set(6, entry(6));
    conn.live(6, msgFrame(entry(6)));
    release();
    await opened;
    await settle();

    expect(frames.map((f) => [f.type, f.seq])).toEqual([
      ["hello", undefined],
      ["msg", 6],
    ]);
    await conn.close();
  });

  it("replays from the inbox when entries follow the resume point", async () => {
    const { inbox, release, calls } = fakeInbox(8, 5);
    const { ws, frames } = fakeSocket();
    const conn = new Connection(ws, USER, deps(inbox));
    const opened = conn.open(6);
    release();
    await opened;
    await settle();

    expect(frames.map((f) => f.seq ?? f.type)).toEqual(["hello", 7, 8]);
    expect(calls).toEqual({ hasAfter: 2, read: 1 });
    await conn.close();
  });

  it("refuses a resume point past the last message, and reads nothing", async () => {
    const { inbox, release, calls } = fakeInbox(8, 5);
    const { ws, frames, closes } = fakeSocket();
    const conn = new Connection(ws, USER, deps(inbox));
    const opened = conn.open(9);
    release();
    await opened;
    await settle();

    expect(frames.map((f) => f.type)).toEqual(["hello", "error"]);
    expect(frames[1]).toMatchObject({ code: "RESUME_AHEAD" });
    expect(closes).toEqual([4009]);
    expect(calls.read).toBe(0);
    await conn.close();
  });
});
