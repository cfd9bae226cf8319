// A client of the WebSocket protocol (docs/protocol.md): connects to one of a
// list of WSS URLs, resumes after the last sequence it holds, acknowledges,
// reconnects with backoff, and resends unanswered sends with the same
// clientMsgId. Used by `chatctl chat`, the tests, the drills and benchmarks.
import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";

import WebSocket from "ws";
import { ERRORS } from "../shared/errors.ts";
import { withDefaults } from "../shared/options.ts";

export interface MsgFrame {
  readonly type: "msg";
  readonly seq: number;
  readonly id: string;
  readonly from: string;
  readonly to: string;
  /** Set when the message was sent to a group. */
  readonly group?: string;
  readonly body: string;
  readonly sentAt: number;
}

export interface ChatClientOptions {
  /** WSS URLs to try, in turn (e.g. the two WSS of a region). */
  readonly urls: readonly string[];
  /** A token, or a function giving a fresh one for every connection. */
  readonly token: string | (() => Promise<string>);
  /** Sequence the client already holds. @default 0 */
  readonly after?: number;
  /** Acknowledge received messages. @default true */
  readonly autoAck?: boolean;
  /** How often acknowledgements are sent. @default 200 */
  readonly ackEveryMs?: number;
  /** Reconnect after a drop. @default true */
  readonly reconnect?: boolean;
  /** First reconnect delay; doubles up to `maxReconnectMs`. @default 100 */
  readonly reconnectMs?: number;
  /** @default 2000 */
  readonly maxReconnectMs?: number;
  /** Give up on a send after this long. @default 30000 */
  readonly sendTimeoutMs?: number;
}

interface PendingSend {
  readonly frame: string;
  readonly resolve: (v: { id: string }) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const DEFAULTS = Object.freeze({
  after: 0,
  autoAck: true,
  ackEveryMs: 200,
  reconnect: true,
  reconnectMs: 100,
  maxReconnectMs: 2000,
  sendTimeoutMs: 30_000,
});

/**
 * Events: `msg` (MsgFrame), `hello` (frame), `open` (url), `close` (code,
 * reason), `error-frame` (frame), `socket-error` (Error), `cursor-reset`
 * (from, to) when the server refused to resume after `from` because its inbox
 * ends before it (it was emptied): the client resumes after `to` (the
 * acknowledged cursor of its last hello) instead.
 */
export class ChatClient extends EventEmitter {
  /** The highest sequence received. */
  lastSeq: number;
  /** Connections opened, the first included. */
  connects = 0;
  private ws: WebSocket | undefined;
  private urlIndex = 0;
  private closed = false;
  private acked = 0;
  /** The acknowledged cursor of the last hello. */
  private helloAcked = 0;
  private backoff: number;
  private ackTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Map<string, PendingSend>();
  private readonly o: Required<ChatClientOptions>;

  constructor(options: ChatClientOptions) {
    super();
    this.o = withDefaults(DEFAULTS, options);
    this.lastSeq = this.o.after;
    this.backoff = this.o.reconnectMs;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** The URL of the current or last connection. */
  get url(): string {
    return this.o.urls[this.urlIndex % this.o.urls.length]!;
  }

  /** Connects; resolves once the server has said hello. */
  /**
   * Connects; resolves once a server has said hello. With reconnects on, a
   * refused or dropped first attempt moves on to the next URL and keeps waiting.
   */
  async connect(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onHello = () => {
        this.off("close", onClose);
        resolve();
      };
      const onClose = (code: number, reason: string) => {
        if (this.o.reconnect) return;
        this.off("hello", onHello);
        this.off("close", onClose);
        reject(new Error(`closed ${code} ${reason}`));
      };
      this.once("hello", onHello);
      this.on("close", onClose);
      void this.open();
    });
  }

  /** Sends a message; resolves with its id once the server has stored it. */
  send(
    to: string,
    body: string,
    clientMsgId: string = randomUUID(),
  ): Promise<{ id: string }> {
    return this.sendFrame({ type: "send", to, body, clientMsgId });
  }

  /** Sends a message to every member of a group; resolves once every copy is stored. */
  sendGroup(
    group: string,
    body: string,
    clientMsgId: string = randomUUID(),
  ): Promise<{ id: string }> {
    return this.sendFrame({ type: "send", group, body, clientMsgId });
  }

  private sendFrame(send: { clientMsgId: string } & Record<string, string>) {
    const { clientMsgId } = send;
    return new Promise<{ id: string }>((resolve, reject) => {
      const frame = JSON.stringify(send);
      const timer = setTimeout(() => {
        this.pending.delete(clientMsgId);
        reject(
          new Error(`send ${clientMsgId} not answered within ${this.o.sendTimeoutMs} ms`),
        );
      }, this.o.sendTimeoutMs);
      this.pending.set(clientMsgId, { frame, resolve, reject, timer });
      if (this.connected) this.ws!.send(frame);
    });
  }

  /** Sends a raw frame (for tests of the protocol). */
  raw(data: string | Buffer): void {
    this.ws?.send(data);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.ackTimer);
    clearTimeout(this.reconnectTimer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("client closed"));
    }
    this.pending.clear();
    this.ws?.close(1000);
  }

  /** Drops the connection without a close frame (a vanished client). */
  terminate(): void {
    this.closed = true;
    clearInterval(this.ackTimer);
    clearTimeout(this.reconnectTimer);
    this.ws?.terminate();
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    const token = typeof this.o.token === "string" ? this.o.token : await this.o.token();
    const ws = new WebSocket(this.url, { headers: { authorization: `Bearer ${token}` } });
    this.ws = ws;

    ws.on("open", () => {
      this.connects++;
      this.backoff = this.o.reconnectMs;
      ws.send(JSON.stringify({ type: "resume", after: this.lastSeq }));
      for (const p of this.pending.values()) ws.send(p.frame);
      this.emit("open", this.url);
    });
    ws.on("message", (data) => this.onFrame(String(data)));
    ws.on("error", (err) => this.emit("socket-error", err));
    ws.on("close", (code, reason) => {
      if (this.ws !== ws) return;
      this.emit("close", code, reason.toString());
      if (code === ERRORS.RESUME_AHEAD.close) {
        // What this client holds past the inbox's end came from before it was emptied.
        const from = this.lastSeq;
        this.lastSeq = Math.min(this.lastSeq, this.helloAcked);
        this.acked = Math.min(this.acked, this.lastSeq);
        this.emit("cursor-reset", from, this.lastSeq);
      }
      if (this.closed || !this.o.reconnect) return;
      let delay = this.backoff + Math.floor(Math.random() * this.backoff);
      const hint = code === 1012 ? reconnectHint(reason.toString()) : undefined;
      if (hint) {
        // The server is going away or its region moved: start again from the
        // first URL (the home region's) after the delay it asked for.
        this.urlIndex = 0;
        delay = hint;
      } else {
        this.urlIndex++;
        this.backoff = Math.min(this.backoff * 2, this.o.maxReconnectMs);
      }
      this.reconnectTimer = setTimeout(() => void this.open(), delay);
    });
    this.ackTimer ??= setInterval(() => this.flushAck(), this.o.ackEveryMs);
  }

  private onFrame(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.emit(
        "socket-error",
        new Error(`server sent a frame that is not JSON: ${text}`),
      );
      return;
    }
    switch (frame.type) {
      case "msg": {
        const msg = frame as unknown as MsgFrame;
        if (msg.seq > this.lastSeq) this.lastSeq = msg.seq;
        this.emit("msg", msg);
        return;
      }
      case "sent": {
        const p = this.pending.get(String(frame.clientMsgId));
        if (!p) return;
        this.pending.delete(String(frame.clientMsgId));
        clearTimeout(p.timer);
        p.resolve({ id: String(frame.id) });
        return;
      }
      case "error": {
        const id = String(frame.clientMsgId);
        const p = frame.clientMsgId ? this.pending.get(id) : undefined;
        if (p && frame.code === "UNAVAILABLE") {
          // Stored or not, a resend with the same clientMsgId is one message.
          setTimeout(() => {
            if (this.pending.get(id) === p && this.connected) this.ws!.send(p.frame);
          }, 300);
        } else if (p) {
          this.pending.delete(id);
          clearTimeout(p.timer);
          p.reject(new Error(`${frame.code}: ${frame.message}`));
        }
        this.emit("error-frame", frame);
        return;
      }
      case "hello":
        this.helloAcked = Number.isSafeInteger(frame.acked) ? (frame.acked as number) : 0;
        this.emit("hello", frame);
        return;
      default:
        return;
    }
  }

  private flushAck(): void {
    if (!this.o.autoAck || !this.connected || this.lastSeq <= this.acked) return;
    this.ws!.send(JSON.stringify({ type: "ack", upTo: this.lastSeq }));
    this.acked = this.lastSeq;
  }
}

/** The `retryInMs` of a 1012 close reason (`{"reason","retryInMs",...}`), if any. */
function reconnectHint(reason: string): number | undefined {
  try {
    const ms = (JSON.parse(reason) as { retryInMs?: unknown }).retryInMs;
    return typeof ms === "number" && ms >= 0 && ms < 60_000 ? ms : undefined;
  } catch {
    return undefined;
  }
}
