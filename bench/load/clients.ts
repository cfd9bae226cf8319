// Lean clients for the load generator: one `ws` socket each, speaking our
// protocol, the bare gateway's or Socket.IO's (Engine.IO v4 over WebSocket),
// with as little work per frame as each protocol allows so that thousands fit
// in one process. They reconnect like apps/client/client.ts does: to the next
// URL, after a doubling backoff with jitter.
import WebSocket from "ws";

import { nowUs, type ClientSpec, type Proto } from "./protocol.ts";

export interface ClientHooks {
  /** The server said hello (or acknowledged the Socket.IO connect). */
  ready(c: LeanClient): void;
  /** A message frame, raw text; `seq` is our protocol's sequence (0 otherwise). */
  message(c: LeanClient, text: string, seq: number): void;
  /** The connection dropped. */
  dropped(c: LeanClient): void;
}

export interface LeanClientOptions {
  readonly proto: Proto;
  readonly reconnect: boolean;
  /** First reconnect delay; doubles up to `maxBackoffMs`. @default 100 */
  readonly backoffMs?: number;
  /** @default 2000 */
  readonly maxBackoffMs?: number;
}

const MSG_PREFIX = '{"type":"msg","seq":';
const HELLO_PREFIX = '{"type":"hello"';

export class LeanClient {
  /** Highest sequence received (our protocol): where a reconnect resumes. */
  lastSeq = 0;
  /** Highest sequence acknowledged. */
  acked = 0;
  /** Connections that reached ready. */
  connects = 0;
  /** Connection attempts, the first included. */
  attempts = 0;
  ready = false;
  /** When the current (or last) connection attempt started, µs since the epoch. */
  attemptAtUs = 0;
  /** The URL of the current (or last) connection. */
  url: string;
  private ws: WebSocket | undefined;
  private urlIndex = 0;
  private closed = false;
  private backoff: number;
  private timer: NodeJS.Timeout | undefined;
  private firstReady: ((err?: Error) => void) | undefined;

  constructor(
    readonly index: number,
    readonly spec: ClientSpec,
    private readonly o: LeanClientOptions,
    private readonly hooks: ClientHooks,
  ) {
    this.url = spec.urls[0]!;
    this.backoff = o.backoffMs ?? 100;
  }

  get user(): string {
    return this.spec.user;
  }

  /** Opens the first connection; resolves when ready, rejects on a failure before. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.firstReady = (err) => (err ? reject(err) : resolve());
      this.connect();
    });
  }

  /** Our protocol: sends a cumulative acknowledgement when something is new. */
  ack(): void {
    if (!this.ready || this.lastSeq <= this.acked) return;
    this.ws!.send(`{"type":"ack","upTo":${this.lastSeq}}`);
    this.acked = this.lastSeq;
  }

  /** Drops the connection now; with `reconnect` it comes back by itself. */
  drop(): void {
    this.ws?.terminate();
  }

  /** Closes the connection and opens a new one to the same URL, resuming after `after`. */
  reopen(after: number): Promise<void> {
    const old = this.ws;
    this.ws = undefined;
    this.ready = false;
    this.acked = 0;
    old?.terminate();
    this.lastSeq = after;
    return this.open();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.terminate();
  }

  private connect(): void {
    if (this.closed) return;
    this.attempts++;
    this.attemptAtUs = nowUs();
    this.url = this.spec.urls[this.urlIndex % this.spec.urls.length]!;
    const ws = new WebSocket(this.address(), {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      headers: this.spec.token ? { authorization: `Bearer ${this.spec.token}` } : {},
    });
    this.ws = ws;
    ws.on("message", (data, isBinary) => {
      if (!isBinary) this.onText(ws, (data as Buffer).toString("utf8"));
    });
    ws.on("error", (err) => {
      if (!this.o.reconnect) this.settle(err);
    });
    ws.on("close", () => this.onClose(ws));
  }

  private address(): string {
    switch (this.o.proto) {
      case "chat":
        return `${this.url}?after=${this.lastSeq}`;
      case "gateway":
        return `${this.url}?user=${encodeURIComponent(this.user)}`;
      case "socketio":
        return `${this.url}/socket.io/?EIO=4&transport=websocket`;
    }
  }

  private onText(ws: WebSocket, text: string): void {
    if (this.o.proto === "socketio") return this.onEngineIo(ws, text);
    if (text.startsWith(MSG_PREFIX)) {
      const seq = parseSeq(text);
      if (seq > this.lastSeq) this.lastSeq = seq;
      this.hooks.message(this, text, seq);
      return;
    }
    if (text.startsWith(HELLO_PREFIX)) this.onReady();
    else if (this.o.proto === "gateway") this.hooks.message(this, text, 0);
  }

  /** Engine.IO v4 packets: 0 open, 2 ping, 4 message (Socket.IO packet follows). */
  private onEngineIo(ws: WebSocket, text: string): void {
    switch (text.charCodeAt(0)) {
      case 48: // "0": open; connect to the main namespace with our user
        ws.send(`40${JSON.stringify({ user: this.user })}`);
        return;
      case 50: // "2": ping
        ws.send("3");
        return;
      case 52: // "4": a Socket.IO packet
        if (text.startsWith("42")) this.hooks.message(this, text, 0);
        else if (text.startsWith("40")) this.onReady();
        else if (text.startsWith("44")) ws.close(1000);
        return;
      default:
        return;
    }
  }

  private onReady(): void {
    this.ready = true;
    this.connects++;
    this.backoff = this.o.backoffMs ?? 100;
    this.hooks.ready(this);
    this.settle();
  }

  private onClose(ws: WebSocket): void {
    if (this.ws !== ws) return;
    const wasReady = this.ready;
    this.ready = false;
    this.acked = 0;
    if (wasReady) this.hooks.dropped(this);
    if (this.closed) return;
    if (!this.o.reconnect) {
      this.settle(new Error(`closed before ready: ${this.url}`));
      return;
    }
    this.urlIndex++;
    const delay = this.backoff + Math.floor(Math.random() * this.backoff);
    this.backoff = Math.min(this.backoff * 2, this.o.maxBackoffMs ?? 2000);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private settle(err?: Error): void {
    const done = this.firstReady;
    this.firstReady = undefined;
    done?.(err);
  }
}

/** The sequence of one of our `msg` frames, read without parsing the JSON. */
function parseSeq(text: string): number {
  let n = 0;
  for (let i = MSG_PREFIX.length; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return n;
}
