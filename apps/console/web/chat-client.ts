// The chat pane's protocol client (docs/protocol.md), for the browser: connects
// with ?token=, resumes after the last sequence it holds, acknowledges, resends
// unanswered sends with the same clientMsgId, pings to notice a dead socket, and
// reconnects by itself with backoff, trying the region's other WSS (then other
// regions', which serve it in failover).

export type ConnState = "connecting" | "connected" | "reconnecting" | "stopped";

/** What the pane shows about a user's connection. */
export interface ConnView {
  readonly state: ConnState;
  /** The URL of the current or last attempt. */
  readonly url: string | null;
  /** From the server's `hello`. */
  readonly wss: string | null;
  readonly region: string | null;
  /** Connections opened after the first. */
  readonly reconnects: number;
  readonly lastSeq: number;
  /** Why the last socket ended: its close code, or what went wrong. */
  readonly lastClose: string | null;
}

export interface IncomingMsg {
  readonly seq: number;
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly body: string;
  readonly sentAt: number;
}

export interface ClientEvents {
  readonly change: (view: ConnView) => void;
  readonly msg: (msg: IncomingMsg) => void;
  readonly sent: (clientMsgId: string, id: string) => void;
  readonly failed: (clientMsgId: string, reason: string) => void;
}

export interface ClientOptions {
  /** A fresh token and the WSS URLs to try, in order. */
  readonly credentials: () => Promise<{ token: string; wss: readonly string[] }>;
  readonly events: ClientEvents;
  /** First reconnect delay, doubled up to maxRetryMs, plus up to half of it. @default 500 */
  readonly firstRetryMs?: number;
  /** @default 5000 */
  readonly maxRetryMs?: number;
  /**
   * Ping interval; no pong within it, or no hello within it of connecting, drops
   * the socket. @default 5000
   */
  readonly pingMs?: number;
}

const DEFAULTS = Object.freeze({ firstRetryMs: 500, maxRetryMs: 5000, pingMs: 5000 });
const ACK_DELAY_MS = 250;
const UNAVAILABLE_RESEND_MS = 500;

export class BrowserChatClient {
  private ws: WebSocket | undefined;
  private urls: readonly string[] = [];
  private urlIndex = 0;
  private retryMs: number;
  private opens = 0;
  /** The last sequence held; null until the first hello says where to start. */
  private lastSeq: number | null = null;
  private acked = 0;
  private awaitingPong = false;
  private stopped = false;
  private ackTimer: number | undefined;
  private retryTimer: number | undefined;
  private pingTimer: number | undefined;
  private helloTimer: number | undefined;
  private readonly pending = new Map<string, string>();
  private view: ConnView = {
    state: "connecting",
    url: null,
    wss: null,
    region: null,
    reconnects: 0,
    lastSeq: 0,
    lastClose: null,
  };
  private readonly o: Required<ClientOptions>;

  constructor(options: ClientOptions) {
    this.o = { ...DEFAULTS, ...options };
    this.retryMs = this.o.firstRetryMs;
  }

  start(): void {
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.helloTimer);
    this.ws?.close(1000);
    this.ws = undefined;
    this.update({ state: "stopped" });
  }

  /** Queues a message; it goes out now if connected, else after the next hello. */
  send(to: string, body: string): string {
    const clientMsgId = `console-${crypto.randomUUID()}`;
    const frame = JSON.stringify({ type: "send", to, body, clientMsgId });
    this.pending.set(clientMsgId, frame);
    if (this.view.state === "connected") this.ws?.send(frame);
    return clientMsgId;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;

    let token: string;
    try {
      const c = await this.o.credentials();
      token = c.token;
      this.urls = c.wss;
    } catch (err) {
      this.retry(`no token: ${(err as Error).message}`);
      return;
    }
    if (this.stopped || this.urls.length === 0) return;

    const url = this.urls[this.urlIndex % this.urls.length]!;
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    this.update({ url, state: this.opens === 0 ? "connecting" : "reconnecting" });
    ws.onmessage = (e) => {
      if (this.ws === ws) this.onFrame(ws, String(e.data));
    };
    ws.onclose = (e) => {
      if (this.ws === ws) this.onClose(e.code, e.reason);
    };
    // A server that accepts the connection but never says hello (paused) is dropped.
    clearTimeout(this.helloTimer);
    this.helloTimer = window.setTimeout(() => {
      if (this.ws === ws && this.view.state !== "connected") this.drop(ws, "no hello");
    }, this.o.pingMs);
  }

  private onFrame(ws: WebSocket, text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (frame.type) {
      case "hello":
        return this.onHello(ws, frame);
      case "msg":
        return this.onMsg(frame as unknown as IncomingMsg);
      case "sent": {
        const id = String(frame.clientMsgId);
        if (this.pending.delete(id)) this.o.events.sent(id, String(frame.id));
        return;
      }
      case "error":
        return this.onError(frame);
      case "pong":
        this.awaitingPong = false;
        return;
      default:
        return;
    }
  }

  private onHello(ws: WebSocket, hello: Record<string, unknown>): void {
    // A new page starts where the user's devices left off; a reconnect where it was.
    const after = this.lastSeq ?? Number(hello.acked ?? 0);
    this.lastSeq = after;
    this.acked = Math.max(this.acked, after);
    ws.send(JSON.stringify({ type: "resume", after }));
    for (const frame of this.pending.values()) ws.send(frame);

    this.opens++;
    this.retryMs = this.o.firstRetryMs;
    this.awaitingPong = false;
    clearInterval(this.pingTimer);
    this.pingTimer = window.setInterval(() => this.ping(ws), this.o.pingMs);
    this.update({
      state: "connected",
      wss: String(hello.wss),
      region: String(hello.region),
      reconnects: this.opens - 1,
      lastSeq: after,
    });
  }

  private onMsg(msg: IncomingMsg): void {
    if (this.lastSeq !== null && msg.seq <= this.lastSeq) return;

    this.lastSeq = msg.seq;
    this.update({ lastSeq: msg.seq });
    this.o.events.msg(msg);
    this.ackTimer ??= window.setTimeout(() => this.flushAck(), ACK_DELAY_MS);
  }

  private onError(frame: Record<string, unknown>): void {
    const clientMsgId = typeof frame.clientMsgId === "string" ? frame.clientMsgId : null;
    const frameText = clientMsgId ? this.pending.get(clientMsgId) : undefined;
    if (!clientMsgId || frameText === undefined) return;

    if (frame.code === "UNAVAILABLE") {
      // Stored or not, a resend with the same clientMsgId is one message.
      window.setTimeout(() => {
        if (this.pending.has(clientMsgId) && this.view.state === "connected") {
          this.ws?.send(frameText);
        }
      }, UNAVAILABLE_RESEND_MS);
      return;
    }
    this.pending.delete(clientMsgId);
    this.o.events.failed(clientMsgId, `${String(frame.code)}: ${String(frame.message)}`);
  }

  private flushAck(): void {
    this.ackTimer = undefined;
    if (this.view.state !== "connected" || this.lastSeq === null) return;
    if (this.lastSeq <= this.acked) return;

    this.ws?.send(JSON.stringify({ type: "ack", upTo: this.lastSeq }));
    this.acked = this.lastSeq;
  }

  private ping(ws: WebSocket): void {
    if (this.ws !== ws) return;

    if (this.awaitingPong) {
      // No answer for a whole interval: the server or the path is gone.
      this.drop(ws, "no pong");
      return;
    }
    this.awaitingPong = true;
    ws.send(JSON.stringify({ type: "ping" }));
  }

  /** Gives up on a socket at once, without waiting for its closing handshake. */
  private drop(ws: WebSocket, why: string): void {
    this.ws = undefined;
    ws.close();
    this.onClose(0, why);
  }

  private onClose(code: number, reason: string): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.ws = undefined;
    if (this.stopped) return;

    const label = code === 0 ? reason : `closed ${code}`;
    if (code === RESUME_AHEAD) {
      // The inbox ends before what this page holds (it was emptied since):
      // start again where the user's devices left off.
      this.lastSeq = null;
      this.acked = 0;
    }
    const hint = code === 1012 ? retryHint(reason) : undefined;
    if (hint !== undefined) {
      // The server is draining or its region moved: start again from the home
      // region's first WSS after the delay it asked for.
      this.urlIndex = 0;
      this.schedule(hint, label);
      return;
    }
    this.urlIndex++;
    this.retry(label);
  }

  private retry(why: string): void {
    const delay = this.retryMs + Math.floor(Math.random() * (this.retryMs / 2));
    this.retryMs = Math.min(this.retryMs * 2, this.o.maxRetryMs);
    this.schedule(delay, why);
  }

  private schedule(delay: number, why: string): void {
    this.update({
      state: this.opens === 0 ? "connecting" : "reconnecting",
      lastClose: why,
    });
    clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => void this.open(), delay);
  }

  private update(change: Partial<ConnView>): void {
    this.view = { ...this.view, ...change };
    this.o.events.change(this.view);
  }
}

/** Close code of a resume point past the last message of the inbox (protocol.md). */
const RESUME_AHEAD = 4009;

/** The `retryInMs` of a 1012 close reason (`{"reason","retryInMs"}`), if any. */
function retryHint(reason: string): number | undefined {
  try {
    const ms = (JSON.parse(reason) as { retryInMs?: unknown }).retryInMs;
    return typeof ms === "number" && ms >= 0 && ms < 60_000 ? ms : undefined;
  } catch {
    return undefined;
  }
}
