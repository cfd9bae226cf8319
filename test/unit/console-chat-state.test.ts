// The console chat pane's state: message states from pending to delivered, and
// events of a replaced pair of clients ignored.
import { describe, expect, it } from "vitest";

import type { ConnView } from "../../apps/console/web/chat-client.ts";
import {
  initialChat,
  reduceChat,
  type ChatAction,
  type ChatState,
  type OutLine,
} from "../../apps/console/web/chat-state.ts";

const USERS = ["alice:usa", "bob:eu"] as const;
const MSG = {
  seq: 1,
  id: "m_1",
  from: "alice:usa",
  to: "bob:eu",
  body: "hi",
  sentAt: 1,
};

function run(...actions: ChatAction[]): ChatState {
  return actions.reduce(reduceChat, initialChat(USERS));
}

const queued: ChatAction = {
  type: "queued",
  gen: 0,
  side: 0,
  clientMsgId: "c1",
  to: "bob:eu",
  body: "hi",
};
const out = (s: ChatState) => s.sides[0].lines[0] as OutLine;

describe("console chat state", () => {
  it("moves a message from pending to sent to delivered", () => {
    expect(out(run(queued)).state).toBe("pending");
    const sent = run(queued, {
      type: "sent",
      gen: 0,
      side: 0,
      clientMsgId: "c1",
      id: "m_1",
    });
    expect(out(sent).state).toBe("sent");

    const delivered = reduceChat(sent, { type: "msg", gen: 0, side: 1, msg: MSG });

    expect(out(delivered).state).toBe("delivered");
    expect(delivered.sides[1].lines).toEqual([{ kind: "in", ...MSG }]);
  });

  it("marks a message delivered when the peer received it before the sender's answer", () => {
    const s = run(
      queued,
      { type: "msg", gen: 0, side: 1, msg: MSG },
      { type: "sent", gen: 0, side: 0, clientMsgId: "c1", id: "m_1" },
    );

    expect(out(s)).toMatchObject({ state: "delivered", id: "m_1" });
  });

  it("keeps the reason of a refused send", () => {
    const s = run(queued, {
      type: "failed",
      gen: 0,
      side: 0,
      clientMsgId: "c1",
      reason: "RATE_LIMITED: slow down",
    });

    expect(out(s)).toMatchObject({ state: "failed", detail: "RATE_LIMITED: slow down" });
  });

  it("ignores the events of the clients a reset replaced", () => {
    const view: ConnView = {
      state: "connected",
      url: "ws://127.0.0.1:1/v1/ws",
      wss: "usa-wss-1",
      region: "usa",
      reconnects: 0,
      lastSeq: 0,
      lastClose: null,
    };
    const s = run(
      { type: "reset", users: ["carol:usa", "dave:eu"] },
      {
        type: "conn",
        gen: 0,
        side: 0,
        view,
      },
    );

    expect(s.gen).toBe(1);
    expect(s.sides.map((x) => x.user)).toEqual(["carol:usa", "dave:eu"]);
    expect(s.sides[0].conn).toBeNull();
  });
});
