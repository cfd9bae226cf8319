// The chat pane: two users (alice:usa and bob:eu unless picked otherwise), each
// with its own socket, exchanging messages. Shows every message's state and
// each side's region, WSS, reconnect count and "reconnecting" while it is down.
import { useEffect, useReducer, useRef, useState } from "preact/hooks";

import { fetchToken } from "./api.ts";
import { BrowserChatClient, type ConnView } from "./chat-client.ts";
import {
  initialChat,
  reduceChat,
  type Line,
  type Side,
  type SideAction,
  type SideIndex,
} from "./chat-state.ts";

type Pair = readonly [string, string];

export function ChatPane({ defaults }: { defaults: Pair }) {
  const [chat, dispatch] = useReducer(reduceChat, defaults, initialChat);
  const [draft, setDraft] = useState<Pair>(defaults);
  const [formError, setFormError] = useState<string | null>(null);
  const clients = useRef<BrowserChatClient[]>([]);
  const gen = useRef(0);

  const connect = async (users: Pair) => {
    setFormError(null);
    if (users[0] === users[1]) return setFormError("pick two different users");
    try {
      await Promise.all(users.map((u) => fetchToken(u)));
    } catch (err) {
      return setFormError((err as Error).message);
    }

    for (const c of clients.current) c.stop();
    gen.current++;
    dispatch({ type: "reset", users });
    clients.current = users.map((user, i) => startClient(user, i as SideIndex));
  };

  const startClient = (user: string, side: SideIndex): BrowserChatClient => {
    const g = gen.current;
    const act = (a: SideAction) => dispatch({ ...a, gen: g, side });
    const client = new BrowserChatClient({
      credentials: async () => {
        const t = await fetchToken(user);
        return { token: t.token, wss: t.wss };
      },
      events: {
        change: (view) => act({ type: "conn", view }),
        msg: (msg) => act({ type: "msg", msg }),
        sent: (clientMsgId, id) => act({ type: "sent", clientMsgId, id }),
        failed: (clientMsgId, reason) => act({ type: "failed", clientMsgId, reason }),
      },
    });
    client.start();
    return client;
  };

  useEffect(() => {
    void connect(defaults);
    return () => clients.current.forEach((c) => c.stop());
  }, []);

  const send = (side: SideIndex, body: string) => {
    const to = chat.sides[side === 0 ? 1 : 0].user;
    const client = clients.current[side];
    if (!client) return;
    const clientMsgId = client.send(to, body);
    dispatch({ type: "queued", gen: chat.gen, side, clientMsgId, to, body });
  };

  return (
    <section class="panel chat">
      <header>
        <h2>Chat</h2>
        <form
          class="users"
          onSubmit={(e) => {
            e.preventDefault();
            void connect(draft);
          }}
        >
          {([0, 1] as const).map((i) => (
            <input
              key={i}
              data-testid={`user-${i}`}
              value={draft[i]}
              aria-label={`user ${i + 1}`}
              onInput={(e) => {
                const next: [string, string] = [draft[0], draft[1]];
                next[i] = e.currentTarget.value.trim();
                setDraft(next);
              }}
            />
          ))}
          <button type="submit">connect</button>
        </form>
      </header>
      {formError && <p class="error">{formError}</p>}
      <div class="sides">
        {chat.sides.map((s, i) => (
          <ChatSide
            key={`${chat.gen}-${i}`}
            side={s}
            peer={chat.sides[i === 0 ? 1 : 0].user}
            onSend={(body) => send(i as SideIndex, body)}
          />
        ))}
      </div>
    </section>
  );
}

interface ChatSideProps {
  readonly side: Side;
  readonly peer: string;
  readonly onSend: (body: string) => void;
}

function ChatSide({ side, peer, onSend }: ChatSideProps) {
  const [text, setText] = useState("");
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    list.current?.scrollTo({ top: list.current.scrollHeight });
  }, [side.lines.length]);

  return (
    <div class="side" data-user={side.user}>
      <header>
        <strong>{side.user}</strong> <ConnBadge view={side.conn} />
      </header>
      <ConnDetail view={side.conn} />
      <ol class="messages" ref={list}>
        {side.lines.map((l) => (
          <MessageLine key={l.kind === "out" ? l.clientMsgId : l.id} line={l} />
        ))}
      </ol>
      <form
        class="compose"
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim() === "") return;
          onSend(text);
          setText("");
        }}
      >
        <input
          data-testid="compose"
          placeholder={`message to ${peer}`}
          value={text}
          maxLength={8192}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit">send</button>
      </form>
    </div>
  );
}

function ConnBadge({ view }: { view: ConnView | null }) {
  const state = view?.state ?? "connecting";
  return (
    <span class={`conn-state ${state}`} data-testid="conn-state" data-state={state}>
      {state}
    </span>
  );
}

function ConnDetail({ view }: { view: ConnView | null }) {
  if (!view) return <p class="conn muted">…</p>;
  return (
    <p class="conn" data-testid="conn-detail">
      <span>region {view.region ?? "–"}</span>
      <span>{view.wss ?? "–"}</span>
      <span data-testid="reconnects">reconnects {view.reconnects}</span>
      <span>seq {view.lastSeq}</span>
      {view.state !== "connected" && view.lastClose && (
        <span class="muted">{view.lastClose}</span>
      )}
    </p>
  );
}

function MessageLine({ line }: { line: Line }) {
  if (line.kind === "in") {
    return (
      <li class="in" data-seq={line.seq} data-id={line.id}>
        <span class="meta">#{line.seq}</span> <span class="who">{line.from}</span>{" "}
        <span class="body">{line.body}</span>
      </li>
    );
  }
  return (
    <li class="out" data-state={line.state} data-id={line.id} title={line.detail}>
      <span class="meta">to</span> <span class="who">{line.to}</span>{" "}
      <span class="body">{line.body}</span>{" "}
      <span class={`msg-state ${line.state}`}>{line.state}</span>
    </li>
  );
}
