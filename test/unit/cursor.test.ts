import { describe, expect, it } from "vitest";

import { Cursor, type CursorEntry } from "../../apps/wss/cursor.ts";

/** An inbox of `n` messages, a socket that records frames, and controls over both. */
function harness(n: number, maxHeld = 1000) {
  const stored: CursorEntry[] = [];
  const store = (seq: number) => stored.push({ seq, frame: `f${seq}` });
  for (let i = 1; i <= n; i++) store(i);

  const sent: number[] = [];
  let congested = false;
  let reads = 0;
  let gate: Promise<void> | undefined;
  const cursor = new Cursor(
    {
      read: async (after, limit) => {
        reads++;
        if (gate) await gate;
        return stored.filter((e) => e.seq > after).slice(0, limit);
      },
      send: (frame) => {
        sent.push(Number(frame.slice(1)));
        return !congested;
      },
    },
    { pageSize: 3, retryMs: 10, maxHeld },
  );
  return {
    cursor,
    sent,
    store,
    reads: () => reads,
    congest: (on: boolean) => (congested = on),
    hold: () => {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 30));

describe("delivery cursor", () => {
  it("replays the inbox after the resume point, across pages", async () => {
    const h = harness(7);
    await h.cursor.start(2);
    expect(h.sent).toEqual([3, 4, 5, 6, 7]);
    expect(h.cursor.lastSent).toBe(7);
  });

  it("sends the next live message directly and drops repeats", async () => {
    const h = harness(2);
    await h.cursor.start(0);
    h.store(3);
    h.cursor.live(3, "f3");
    h.cursor.live(3, "f3");
    h.cursor.live(2, "f2");
    expect(h.sent).toEqual([1, 2, 3]);
  });

  it("holds live messages back while replaying, then sends them in order once", async () => {
    const h = harness(3);
    const release = h.hold();
    const started = h.cursor.start(0);
    h.store(4);
    h.store(5);
    h.cursor.live(5, "f5");
    h.cursor.live(4, "f4");
    h.cursor.live(2, "f2");
    expect(h.sent).toEqual([]);
    release();
    await started;
    await tick();
    expect(h.sent).toEqual([1, 2, 3, 4, 5]);
  });

  it("fills a gap on the live path from the inbox", async () => {
    const h = harness(1);
    await h.cursor.start(0);
    h.store(2);
    h.store(3);
    h.cursor.live(3, "f3");
    await tick();
    expect(h.sent).toEqual([1, 2, 3]);
  });

  it("retries when the inbox read raced the write of a held message", async () => {
    const h = harness(1);
    await h.cursor.start(0);
    h.cursor.live(3, "f3");
    await tick();
    expect(h.sent).toEqual([1]);
    h.store(2);
    h.store(3);
    await tick();
    await tick();
    expect(h.sent).toEqual([1, 2, 3]);
  });

  it("pauses a congested socket and catches it up from the inbox on resume", async () => {
    const h = harness(0);
    await h.cursor.start(0);
    h.store(1);
    h.congest(true);
    h.cursor.live(1, "f1");
    expect(h.cursor.isStalled).toBe(true);
    for (let s = 2; s <= 6; s++) {
      h.store(s);
      h.cursor.live(s, `f${s}`);
    }
    expect(h.sent).toEqual([1]);
    h.congest(false);
    h.cursor.resume();
    await tick();
    expect(h.sent).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("drops held messages past its bound and reads them from the inbox instead", async () => {
    const h = harness(1, 2);
    const release = h.hold();
    const started = h.cursor.start(0);
    for (let s = 2; s <= 10; s++) {
      h.store(s);
      h.cursor.live(s, `f${s}`);
    }
    release();
    await started;
    await tick();
    expect(h.sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("does nothing after close", async () => {
    const h = harness(3);
    h.cursor.close();
    await h.cursor.start(0);
    h.cursor.live(4, "f4");
    expect(h.sent).toEqual([]);
  });
});
