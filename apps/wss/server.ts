// The WebSocket server: authenticates the upgrade, runs heartbeats, batches
// acknowledgements onto the region's Redis Stream, and serves health checks
// and metrics.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";

import type { Redis } from "ioredis";
import { WebSocketServer, type WebSocket } from "ws";

import { ACK_STREAM } from "../chat-server/ack-worker.ts";
import { requestToken, type TokenVerifier } from "../shared/auth.ts";
import { ChatError } from "../shared/errors.ts";
import { answerParserErrors, queryInt, refuseRaw, sendJson } from "../shared/http.ts";
import { withDefaults } from "../shared/options.ts";
import { RateLimiter } from "../shared/rate-limit.ts";
import { Connection, type ConnectionDeps } from "./connection.ts";
import { SetupGate } from "./setup-gate.ts";

export const WS_PATH = "/v1/ws";

export interface WssOptions {
  /** Largest frame accepted from a client, in bytes; larger closes with 1009. @default 65536 */
  readonly maxPayload?: number;
  /** Ping interval; a peer that misses one pong is dropped. @default 15000 */
  readonly heartbeatMs?: number;
  /** How often batched acknowledgements are written. @default 500 */
  readonly ackFlushMs?: number;
  /** Approximate length the acknowledgement stream is trimmed to. @default 1000000 */
  readonly ackStreamMaxLen?: number;
  /** Frames a connection may send per second (burst: twice that). @default 50 */
  readonly framesPerSecond?: number;
  /** Sends a user may make per second on this WSS (burst: four times). @default 20 */
  readonly sendsPerSecond?: number;
  /** Longest wait for in-flight sends when draining. @default 5000 */
  readonly drainTimeoutMs?: number;
  /**
   * Connection set-ups (inbox reads, hello, replay) run at once;
   * connections past it wait for their hello in arrival order. More at once
   * leaves more set-up garbage to be promoted, which idle memory per
   * connection shows; since no slot waits on ZooKeeper any more, 32 sets up
   * connections about as fast as 64 did, with less of it (docs/benchmarks.md).
   * @default 32
   */
  readonly setupConcurrency?: number;
}

const DEFAULTS = Object.freeze({
  maxPayload: 64 * 1024,
  heartbeatMs: 15_000,
  ackFlushMs: 500,
  ackStreamMaxLen: 1_000_000,
  framesPerSecond: 50,
  sendsPerSecond: 20,
  drainTimeoutMs: 5000,
  setupConcurrency: 32,
});

type ConnectionConfig = Omit<
  ConnectionDeps,
  "ack" | "userSends" | "connFrames" | "inflight" | "setups"
>;

export interface WssDeps extends ConnectionConfig {
  readonly verifier: TokenVerifier;
  /** Regions whose users this WSS accepts: its own, plus any it serves in failover. */
  readonly serves: (region: string) => boolean;
  /** The region serving a region's users now (its own, or its stand-in in a failover). */
  readonly servedBy?: (region: string) => string;
  /** Whether the Redis subscriber is connected; new connections wait for nothing else. */
  readonly subscriberReady?: () => boolean;
  /** Redis connection for commands (not the subscriber). */
  readonly redis: Redis;
  readonly ready: () => Promise<Record<string, boolean>>;
}

export class ChatWss {
  readonly http: Server;
  private readonly conns = new Map<WebSocket, Connection>();
  private readonly wss: WebSocketServer;
  private readonly pendingAcks = new Map<string, number>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly ackTimer: NodeJS.Timeout;
  private readonly connDeps: ConnectionDeps;
  private readonly o: Required<WssOptions>;
  private draining = false;
  /** Socket listeners shared by every connection (none made per connection). */
  private readonly on: SocketListeners;

  constructor(
    private readonly deps: WssDeps,
    options: WssOptions = {},
  ) {
    this.o = withDefaults(DEFAULTS, options);
    const { framesPerSecond, sendsPerSecond } = this.o;
    this.connDeps = {
      ...deps,
      ack: (u, n) => this.ack(u, n),
      inflight: this.inflight,
      userSends: new RateLimiter({ rate: sendsPerSecond, burst: sendsPerSecond * 4 }),
      connFrames: new RateLimiter({ rate: framesPerSecond, burst: framesPerSecond * 2 }),
      setups: new SetupGate(this.o.setupConcurrency),
    };
    this.on = socketListeners(this.conns, deps);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.o.maxPayload });
    this.http = createServer((req, res) => {
      void this.health(req.url ?? "/").then(([status, body]) => {
        if (typeof body === "string") {
          res.writeHead(status, { "content-type": deps.metrics.registry.contentType });
          res.end(body);
        } else {
          sendJson(res, status, body);
        }
      });
    });
    this.http.headersTimeout = 10_000;
    this.http.requestTimeout = 30_000;
    answerParserErrors(this.http, (reason) => deps.metrics.rejected.inc({ reason }));
    this.http.on("upgrade", (req, socket, head) => void this.upgrade(req, socket, head));
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs);
    this.ackTimer = setInterval(() => void this.flushAcks(), this.o.ackFlushMs);
  }

  /** Open connections. */
  get connections(): number {
    return this.conns.size;
  }

  /**
   * Stops accepting, lets in-flight sends finish, closes every socket with
   * 1012 and a jittered reconnect hint, removes presence and writes pending
   * acknowledgements.
   */
  async drain(): Promise<void> {
    this.draining = true;
    clearInterval(this.heartbeat);
    this.http.close();
    const deadline = new Promise((r) => setTimeout(r, this.o.drainTimeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.inflight]), deadline]);

    const closing = [...this.conns.values()].map((c) => c.close());
    for (const ws of this.wss.clients) {
      const retryInMs = 500 + Math.floor(Math.random() * 2000);
      ws.close(1012, JSON.stringify({ reason: "server restarting", retryInMs }));
    }
    await Promise.all(closing);
    clearInterval(this.ackTimer);
    await this.flushAcks();
  }

  /**
   * Closes the connections of `region`'s users with 1012 and a reconnect hint
   * naming the region now serving them.
   */
  dropRegion(region: string, servedBy: string): void {
    for (const [ws, conn] of this.conns) {
      if (!conn.user.endsWith(`:${region}`)) continue;
      const retryInMs = 200 + Math.floor(Math.random() * 800);
      ws.close(1012, JSON.stringify({ reason: "region moved", servedBy, retryInMs }));
    }
  }

  private async health(url: string): Promise<[number, unknown]> {
    const path = url.split("?")[0];
    if (path === "/healthz") return [200, { ok: true }];
    if (path === "/metrics") {
      let buffered = 0;
      for (const ws of this.conns.keys()) buffered += ws.bufferedAmount;
      this.deps.metrics.buffered.set(buffered);
      return [200, await this.deps.metrics.registry.metrics()];
    }
    if (path === "/readyz") {
      const checks = await this.deps.ready();
      const ok = !this.draining && Object.values(checks).every(Boolean);
      return [ok ? 200 : 503, { ok, checks, connections: this.conns.size }];
    }
    if (path === WS_PATH) {
      const err = new ChatError(
        "UPGRADE_REQUIRED",
        `${WS_PATH} takes WebSocket connections only: send an Upgrade: websocket request`,
      );
      return [err.status, err.toJSON()];
    }
    const err = new ChatError("NOT_FOUND", `no route ${path}; see docs/protocol.md`);
    return [404, err.toJSON()];
  }

  // Every connect's cost is paid here or in Connection.open: a storm's 2,500
  // reconnects take a WSS 3-4 s on the benchmark's two cores, about 0.6 ms of
  // its CPU each (the handshake, the token check, the presence node's create
  // and ACL, its share of batched inbox reads), and libuv accepts one
  // connection per loop iteration, so the accept queue drains only as fast as
  // the loop turns (docs/benchmarks.md, "Reconnect storm").
  private async upgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): Promise<void> {
    socket.on("error", () => socket.destroy());
    let user: string;
    let after: number | undefined;
    try {
      const url = new URL(req.url ?? "/", "http://wss");
      if (url.pathname !== WS_PATH) {
        throw new ChatError("NOT_FOUND", `connect to ${WS_PATH}`);
      }
      if (this.draining) {
        throw new ChatError("UNAVAILABLE", "server is draining; connect to another WSS");
      }
      const token = requestToken(
        req.headers.authorization,
        url.searchParams.get("token"),
      );

      const id = await this.deps.verifier.verify(token);
      if (!this.deps.serves(id.region)) {
        const serving = this.deps.servedBy?.(id.region) ?? id.region;
        throw new ChatError(
          "FORBIDDEN",
          `this WSS does not serve region ${id.region}'s users now; ` +
            `connect to a WSS of region ${serving}`,
        );
      }
      if (this.deps.subscriberReady?.() === false) {
        // Its topic could not be subscribed: the connection would wait in silence.
        throw new ChatError(
          "UNAVAILABLE",
          "this WSS cannot reach its Redis; retry shortly or connect to another WSS",
        );
      }
      user = id.id;
      after = queryInt(url.searchParams, "after");
    } catch (err) {
      const e =
        err instanceof ChatError ? err : new ChatError("INTERNAL", "internal error");
      this.deps.metrics.rejected.inc({ reason: e.code });
      return refuseRaw(socket, e);
    }

    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, user, after));
  }

  private accept(ws: WebSocket, user: string, after: number | undefined): void {
    const conn = new Connection(ws, user, this.connDeps);
    this.conns.set(ws, conn);
    this.deps.metrics.connections.set(this.conns.size);

    ws.on("pong", this.on.pong);
    ws.on("message", this.on.message);
    ws.on("error", this.on.error);
    ws.on("close", this.on.close);
    conn.open(after).catch((err: unknown) => {
      this.deps.log.warn({ conn: conn.id, user, err }, "connection setup failed");
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
    const maxLen = this.o.ackStreamMaxLen;
    for (const [user, upTo] of batch) {
      pipe.xadd(ACK_STREAM, "MAXLEN", "~", maxLen, "*", "user", user, "upTo", upTo);
    }
    const results = await pipe.exec().catch(() => null);
    if (!results || results.some(([err]) => err)) {
      // A lost acknowledgement only costs a redelivery; keep it for the next flush.
      for (const [user, upTo] of batch) this.ack(user, upTo);
    }
  }
}

interface SocketListeners {
  pong(this: WebSocket): void;
  message(this: WebSocket, data: Buffer, isBinary: boolean): void;
  error(this: WebSocket, err: Error): void;
  close(this: WebSocket, code: number): void;
}

/** Listeners for every socket of a server; each finds its connection by socket. */
function socketListeners(
  conns: Map<WebSocket, Connection>,
  deps: Pick<WssDeps, "log" | "metrics">,
): SocketListeners {
  const { log, metrics } = deps;
  // A socket the library closed for a protocol error reports 1006 (the client
  // sent no close frame back); the code it was closed with comes from the error.
  const closedWith = new WeakMap<WebSocket, number>();
  return {
    pong() {
      const conn = conns.get(this);
      if (conn) conn.alive = true;
    },
    message(data, isBinary) {
      const conn = conns.get(this);
      if (!conn) return;

      conn.alive = true;
      if (isBinary) {
        conn.reject("BAD_FRAME", "binary frames are not supported; send JSON text", 4005);
        return;
      }
      void conn.receive(data.toString("utf8"));
    },
    error(err) {
      const conn = conns.get(this);
      log.debug({ conn: conn?.id, user: conn?.user, err }, "socket error");
      const code = WS_ERROR_CLOSE[(err as { code?: string }).code ?? ""];
      if (code !== undefined) closedWith.set(this, code);
    },
    close(received) {
      const code = closedWith.get(this) ?? received;
      const conn = conns.get(this);
      log.debug({ conn: conn?.id, user: conn?.user, code }, "disconnected");
      metrics.closes.inc({ code: String(code) });
      if (code === 1009) metrics.rejected.inc({ reason: "PAYLOAD_TOO_LARGE" });
      if (code === 1007) metrics.rejected.inc({ reason: "INVALID_UTF8" });
      if (!conn) return;

      conns.delete(this);
      metrics.connections.set(conns.size);
      void conn.close();
    },
  };
}

/** The close code the WebSocket library sends for each protocol error it raises. */
const WS_ERROR_CLOSE: Readonly<Record<string, number>> = Object.freeze({
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_INVALID_OPCODE: 1002,
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 1002,
  WS_ERR_UNEXPECTED_RSV_1: 1002,
  WS_ERR_UNEXPECTED_RSV_2_3: 1002,
  WS_ERR_EXPECTED_FIN: 1002,
  WS_ERR_EXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_MASK: 1002,
  WS_ERR_INVALID_CLOSE_CODE: 1002,
});
