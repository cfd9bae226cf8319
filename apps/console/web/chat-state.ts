// The chat pane's state: two users, each with a connection view and the lines of
// its conversation. A message is `delivered` once the other user's socket on
// this page received it (the protocol sends no receipts; the page sees both ends).
import type { ConnView, IncomingMsg } from "./chat-client.ts";

export type LineState = "pending" | "sent" | "delivered" | "failed";

export interface OutLine {
  readonly kind: "out";
  readonly clientMsgId: string;
  readonly to: string;
  readonly body: string;
  readonly state: LineState;
  readonly id?: string;
  readonly detail?: string;
}

export interface InLine {
  readonly kind: "in";
  readonly seq: number;
  readonly id: string;
  readonly from: string;
  readonly body: string;
  readonly sentAt: number;
}

export type Line = OutLine | InLine;

export interface Side {
  readonly user: string;
  readonly conn: ConnView | null;
  readonly lines: readonly Line[];
}

export type SideIndex = 0 | 1;

export interface ChatState {
  /** Bumped by every reset; actions of an earlier pair of clients are ignored. */
  readonly gen: number;
  readonly sides: readonly [Side, Side];
  /** Ids of the messages either side received. */
  readonly received: ReadonlySet<string>;
}

export type SideAction =
  | { type: "conn"; view: ConnView }
  | { type: "queued"; clientMsgId: string; to: string; body: string }
  | { type: "sent"; clientMsgId: string; id: string }
  | { type: "failed"; clientMsgId: string; reason: string }
  | { type: "msg"; msg: IncomingMsg };

export type ChatAction =
  | { type: "reset"; users: readonly [string, string] }
  | (SideAction & { gen: number; side: SideIndex });

/** Lines kept per side; older ones scroll away. */
const MAX_LINES = 200;

export function initialChat(users: readonly [string, string]): ChatState {
  return {
    gen: 0,
    sides: [emptySide(users[0]), emptySide(users[1])],
    received: new Set(),
  };
}

export function reduceChat(state: ChatState, action: ChatAction): ChatState {
  if (action.type === "reset") {
    return { ...initialChat(action.users), gen: state.gen + 1 };
  }
  if (action.gen !== state.gen) return state;

  const i = action.side;
  const other: SideIndex = i === 0 ? 1 : 0;
  switch (action.type) {
    case "conn":
      return withSide(state, i, (s) => ({ ...s, conn: action.view }));
    case "queued": {
      const line: OutLine = { kind: "out", state: "pending", ...pick(action) };
      return withSide(state, i, (s) => ({ ...s, lines: capped([...s.lines, line]) }));
    }
    case "sent": {
      const done = state.received.has(action.id) ? "delivered" : "sent";
      return withOut(state, i, action.clientMsgId, { state: done, id: action.id });
    }
    case "failed":
      return withOut(state, i, action.clientMsgId, {
        state: "failed",
        detail: action.reason,
      });
    case "msg": {
      const m = action.msg;
      const line: InLine = { kind: "in", ...m };
      const received = new Set(state.received).add(m.id);
      const next = withSide({ ...state, received }, i, (s) => ({
        ...s,
        lines: capped([...s.lines, line]),
      }));
      return withSide(next, other, (s) => ({
        ...s,
        lines: s.lines.map((l) =>
          l.kind === "out" && l.id === m.id ? { ...l, state: "delivered" } : l,
        ),
      }));
    }
  }
}

function emptySide(user: string): Side {
  return { user, conn: null, lines: [] };
}

function pick(a: { clientMsgId: string; to: string; body: string }) {
  return { clientMsgId: a.clientMsgId, to: a.to, body: a.body };
}

function withSide(state: ChatState, i: SideIndex, f: (s: Side) => Side): ChatState {
  const sides: [Side, Side] = [state.sides[0], state.sides[1]];
  sides[i] = f(sides[i]);
  return { ...state, sides };
}

function withOut(
  state: ChatState,
  i: SideIndex,
  clientMsgId: string,
  change: Partial<OutLine>,
): ChatState {
  return withSide(state, i, (s) => ({
    ...s,
    lines: s.lines.map((l) =>
      l.kind === "out" && l.clientMsgId === clientMsgId ? { ...l, ...change } : l,
    ),
  }));
}

function capped(lines: Line[]): Line[] {
  return lines.length > MAX_LINES ? lines.slice(-MAX_LINES) : lines;
}
