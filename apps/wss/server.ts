// The WebSocket server: authenticates the upgrade, runs heartbeats, batches
// acknowledgements onto the region's Redis Stream, and serves health checks.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";

import type { Redis } from "ioredis";
import { WebSocketServer, type WebSocket } from "ws";

import { ACK_STREAM } from "../chat-server/ack-worker.ts";
import { bearer, verifyUserToken } from "../shared/auth.ts";
import { ChatError } from "../shared/errors.ts";
import { sendJson } from "../shared/http.ts";
import { Connection, type ConnectionDeps } from "./connection.ts";
import { withDefaults } from "../shared/options.ts";

export const WS_PATH = "/v1/ws";

export interface WssOptions {
  /** Largest frame accepted from a client, in bytes. @default 65536 */
  readonly maxPayload?: number;
  /** Ping interval; a peer that misses one pong is dropped. @default 15000 */
  readonly heartbeatMs?: number;
  /** How often batched acknowledgements are written. @default 100 */
  readonly ackFlushMs?: number;
  /** Approximate length the acknowledgement stream is trimmed to. @default 1000000 */
  readonly ackStreamMaxLen?: number;
}

const DEFAULTS = Object.freeze({
  maxPayload: 64 * 1024,
  heartbeatMs: 15_000,
  ackFlushMs: 100,
  ackStreamMaxLen: 1_000_000,
});

export interface WssDeps extends Omit<ConnectionDeps, "ack"> {
  readonly userKey: Uint8Array;
  /** Redis connection for commands (not the subscriber). */
  readonly redis: Redis;
  readonly ready: () => Promise<Record<string, boolean>>;
}

export class ChatWss {
  /** Open connections. */
  get connections(): number {
    return this.conns.size;
  }

  readonly http: Server;
  private readonly conns = new Map<WebSocket, Connection>();
  private readonly wss: WebSocketServer;
  private readonly pendingAcks = new Map<string, number>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly ackTimer: NodeJS.Timeout;
  private readonly o: Required<WssOptions>;
  private draining = false;

  constructor(
    private readonly deps: WssDeps,
    options: WssOptions = {},
  ) {
    this.o = withDefaults(DEFAULTS, options);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.o.maxPayload });
    this.http = createServer((req, res) => {
      void this.health(req.url ?? "/").then(([status, body]) =>
        sendJson(res, status, body),
      );
    });
    this.http.on("upgrade", (req, socket, head) => void this.upgrade(req, socket, head));
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs);
    this.ackTimer = setInterval(() => void this.flushAcks(), this.o.ackFlushMs);
  }

  /**
   * Stops accepting, closes every socket with 1012 and a jittered reconnect
   * hint, removes presence and writes pending acknowledgements.
   */
  async drain(): Promise<void> {
    this.draining = true;
    clearInterval(this.heartbeat);
    this.http.close();
    const closing = [...this.conns.values()].map((c) => c.close());
    for (const ws of this.wss.clients) {
      const retryInMs = 500 + Math.floor(Math.random() * 2000);
      ws.close(1012, JSON.stringify({ reason: "server restarting", retryInMs }));
    }
    await Promise.all(closing);
    clearInterval(this.ackTimer);
    await this.flushAcks();
  }

  private async health(url: string): Promise<[number, unknown]> {
    const path = url.split("?")[0];
    if (path === "/healthz") return [200, { ok: true }];
    if (path === "/readyz") {
      const checks = await this.deps.ready();
      const ok = !this.draining && Object.values(checks).every(Boolean);
      return [ok ? 200 : 503, { ok, checks, connections: this.conns.size }];
    }
    return [
      404,
      new ChatError("NOT_FOUND", `no route ${path}; see docs/protocol.md`).toJSON(),
    ];
  }

  private async upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    socket.on("error", () => socket.destroy());
    const url = new URL(req.url ?? "/", "http://wss");
    if (url.pathname !== WS_PATH)
      return reject(socket, 404, "NOT_FOUND", `connect to ${WS_PATH}`);
    if (this.draining)
      return reject(socket, 503, "UNAVAILABLE", "server is draining; reconnect");

    let user: string;
    let after: number | undefined;
    try {
      const token =
        bearer(req.headers.authorization) ?? url.searchParams.get("token") ?? "";
      if (!token)
        throw new ChatError("UNAUTHENTICATED", "send Authorization: Bearer <token>");
      user = (await verifyUserToken(this.deps.userKey, token, this.deps.regions)).id;
      after = optionalInt(url.searchParams.get("after"), "after");
    } catch (err) {
      const e =
        err instanceof ChatError ? err : new ChatError("INTERNAL", "internal error");
      return reject(socket, e.status, e.code, e.message);
    }

    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, user, after));
  }

  private accept(ws: WebSocket, user: string, after: number | undefined): void {
    const conn = new Connection(ws, user, {
      ...this.deps,
      ack: (u, n) => this.ack(u, n),
    });
    this.conns.set(ws, conn);
    const log = this.deps.log.child({ conn: conn.id, user });

    ws.on("pong", () => (conn.alive = true));
    ws.on("message", (data, isBinary) => {
      conn.alive = true;
      if (isBinary) {
        ws.close(4005, "binary frames are not supported; send JSON text");
        return;
      }
      void conn.receive(data.toString("utf8"));
    });
    ws.on("error", (err) => log.debug({ err }, "socket error"));
    ws.on("close", (code) => {
      log.debug({ code }, "disconnected");
      this.conns.delete(ws);
      void conn.close();
    });
    conn.open(after).catch((err: unknown) => {
      log.warn({ err }, "connection setup failed");
      ws.close(1011, "setup failed; reconnect");
    });
  }

  private beat(): void {
    for (const [ws, conn] of this.conns) {
      if (!conn.alive) {
        ws.terminate();
        continue;
      }
      conn.alive = false;
      ws.ping();
    }
  }

  private ack(user: string, upTo: number): void {
    this.pendingAcks.set(user, Math.max(this.pendingAcks.get(user) ?? 0, upTo));
  }

  private async flushAcks(): Promise<void> {
    if (this.pendingAcks.size === 0) return;
    const batch = [...this.pendingAcks];
    this.pendingAcks.clear();
    const pipe = this.deps.redis.pipeline();
    for (const [user, upTo] of batch) {
      pipe.xadd(
        ACK_STREAM,
        "MAXLEN",
        "~",
        this.o.ackStreamMaxLen,
        "*",
        "user",
        user,
        "upTo",
        upTo,
      );
    }
    const results = await pipe.exec().catch(() => null);
    if (!results || results.some(([err]) => err)) {
      // A lost acknowledgement only costs a redelivery; keep it for the next flush.
      for (const [user, upTo] of batch) this.ack(user, upTo);
    }
  }
}

function reject(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function statusText(status: number): string {
  return (
    {
      400: "Bad Request",
      401: "Unauthorized",
      404: "Not Found",
      503: "Service Unavailable",
    }[status] ?? "Error"
  );
}

function optionalInt(raw: string | null, name: string): number | undefined {
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ChatError("BAD_REQUEST", `${name} must be a non-negative integer`);
  }
  return n;
}
