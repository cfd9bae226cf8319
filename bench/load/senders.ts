// How the load generator sends: a PUBLISH on the user's topic (our delivery
// path and the bare gateway), an emit to the user's room through Socket.IO's
// Redis adapter, or POST /v1/messages on the chat server (end to end). Each
// pipelines: Redis commands issued in one tick leave in one write, HTTP
// requests do not wait for each other's answers.
import { Agent, request } from "node:http";

import { Redis } from "ioredis";

import { msgFrame } from "../../apps/shared/message.ts";
import type { SenderArgs } from "./protocol.ts";

export interface Sender {
  /** Requests not answered yet. */
  readonly inFlight: number;
  /** Each send is a group message: one copy for every connected client. */
  readonly toAll: boolean;
  /** Sends message `n` of `user`; `onFail` is called when it did not go through. */
  send(
    user: string,
    n: number,
    scheduledUs: number,
    body: string,
    onFail: () => void,
  ): void;
  close(): Promise<void>;
}

/** The sender a `sender` command asks for. */
export async function createSender(a: SenderArgs, runTag: string): Promise<Sender> {
  if (a.kind === "http") {
    return new HttpSender(a.cs, a.tokens, a.maxInFlight, runTag, a.group);
  }
  if (a.via === "plain") return new PublishSender(a.url, a.password);
  return SocketIoSender.create(a.url, a.password);
}

/** The frame our WSS expects on a user's topic (seq = n); the peers forward it as is. */
export function frameFor(user: string, n: number, scheduledUs: number, body: string) {
  return msgFrame({
    seq: n,
    id: `m_bench_${n}`,
    from: "loadgen:usa",
    to: user,
    body,
    sentAt: Math.floor(scheduledUs / 1000),
  });
}

class PublishSender implements Sender {
  inFlight = 0;
  readonly toAll = false;
  private readonly redis: Redis;

  constructor(url: string, password: string) {
    this.redis = new Redis(url, { password, enableAutoPipelining: true });
    this.redis.on("error", () => undefined);
  }

  send(user: string, n: number, scheduledUs: number, body: string, onFail: () => void) {
    this.inFlight++;
    this.redis.publish(`u:${user}`, frameFor(user, n, scheduledUs, body)).then(
      () => this.inFlight--,
      () => {
        this.inFlight--;
        onFail();
      },
    );
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/**
 * A Socket.IO node that only emits: `io.to(room).emit` makes the Redis adapter
 * publish the packet on the room's channel, once, as any Socket.IO server of
 * the cluster would. It does not listen to the broadcast pattern itself, so
 * the load generator does not receive its own traffic back.
 */
class SocketIoSender implements Sender {
  readonly inFlight = 0;
  readonly toAll = false;

  private constructor(
    private readonly io: { to(room: string): { emit(ev: string, d: string): unknown } },
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly closeIo: () => void,
  ) {}

  static async create(url: string, password: string): Promise<SocketIoSender> {
    const { Server } = await import("socket.io");
    const { createAdapter } = await import("@socket.io/redis-adapter");
    const pub = new Redis(url, { password, enableAutoPipelining: true });
    const sub = new Redis(url, { password });
    pub.on("error", () => undefined);
    sub.on("error", () => undefined);
    const io = new Server();
    io.adapter(createAdapter(pub, sub));
    await sub.punsubscribe("socket.io#/#*");
    return new SocketIoSender(io, pub, sub, () => void io.close());
  }

  send(user: string, n: number, scheduledUs: number, body: string) {
    this.io.to(`u:${user}`).emit("msg", frameFor(user, n, scheduledUs, body));
  }

  async close(): Promise<void> {
    this.closeIo();
    this.pub.disconnect();
    this.sub.disconnect();
  }
}

/** POST /v1/messages to a user, or (with `group`) to a group. */
class HttpSender implements Sender {
  inFlight = 0;
  readonly toAll: boolean;
  private readonly agent: Agent;
  private readonly url: URL;
  private turn = 0;

  constructor(
    cs: string,
    private readonly tokens: readonly string[],
    maxInFlight: number,
    private readonly runTag: string,
    private readonly group?: string,
  ) {
    this.url = new URL("/v1/messages", cs);
    this.agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
    this.toAll = group !== undefined;
  }

  send(user: string, n: number, _scheduledUs: number, body: string, onFail: () => void) {
    const token = this.tokens[this.turn++ % this.tokens.length]!;
    const to = this.group === undefined ? { to: user } : { group: this.group };
    const payload = JSON.stringify({
      ...to,
      body,
      clientMsgId: `${this.runTag}-${(this.group ?? user).replace(":", ".")}-${n}`,
    });
    this.inFlight++;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (!ok) onFail();
    };
    const req = request(
      this.url,
      {
        method: "POST",
        agent: this.agent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => finish(res.statusCode === 202));
        res.on("error", () => finish(false));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.on("error", () => finish(false));
    req.end(payload);
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
