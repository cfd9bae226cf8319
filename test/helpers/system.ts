// Starts the local system for a test suite: real redis-server, ZooKeeper,
// dynalite and app processes on free loopback ports, in a temporary folder.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  ChatClient,
  type ChatClientOptions,
  type MsgFrame,
} from "../../apps/client/client.ts";
import { Redis } from "ioredis";

import { LocalSystem, zkDigestOf, type LocalOptions } from "../../apps/local/runtime.ts";
import { ZkSession } from "../../apps/shared/zk.ts";
import type { LocalSecrets } from "../../apps/local/secrets.ts";
import { secretKey, signUserToken } from "../../apps/shared/auth.ts";
import { dynamoClient, Inbox } from "../../apps/shared/inbox.ts";
import type { DeliveryChecker } from "../../apps/checker/checker.ts";
import { sendBody, type SendFn } from "../../apps/checker/senders.ts";

/** App settings that make faults show quickly in tests. */
export const FAST_APP_ENV = Object.freeze({
  CHAT_LOG_LEVEL: "info",
  CHAT_HEARTBEAT_MS: "1000",
  CHAT_ZK_SESSION_TIMEOUT_MS: "4000",
  CHAT_RESUME_WAIT_MS: "1000",
  CHAT_ACK_FLUSH_MS: "1000",
  CHAT_LEASE_MS: "6000",
  CHAT_LEASE_REFRESH_MS: "250",
  // Fault tests send hundreds of messages a second per sender.
  CHAT_RATE_SENDS_PER_S: "10000",
  CHAT_RATE_FRAMES_PER_S: "10000",
});

export class TestSystem {
  readonly clients: ChatClient[] = [];

  private constructor(
    readonly local: LocalSystem,
    readonly secrets: LocalSecrets,
    private readonly dir: string,
  ) {}

  static async start(
    options: Partial<Omit<LocalOptions, "dir" | "secrets">> = {},
  ): Promise<TestSystem> {
    const dir = mkdtempSync(join(tmpdir(), "chat-test-"));
    const secrets: LocalSecrets = {
      jwtSecret: randomBytes(32).toString("base64url"),
      internalSecret: randomBytes(32).toString("base64url"),
      redisPassword: randomBytes(16).toString("base64url"),
      zkPassword: randomBytes(16).toString("base64url"),
    };
    const local = await LocalSystem.start({
      dir,
      secrets,
      ...options,
      appEnv: { ...FAST_APP_ENV, ...options.appEnv },
    });
    return new TestSystem(local, secrets, dir);
  }

  get status() {
    return this.local.status;
  }

  region(id: string) {
    const r = this.local.status.regions[id];
    if (!r) throw new Error(`region ${id} is not running`);
    return r;
  }

  token(user: string, ttl?: number): Promise<string> {
    return signUserToken(secretKey(this.secrets.jwtSecret), user, ttl);
  }

  /** A ZooKeeper session on a region's ensemble, with the apps' credentials. */
  async zk(region: string): Promise<ZkSession> {
    const zk = new ZkSession({
      connect: this.region(region).zookeeper,
      digest: zkDigestOf(this.secrets),
    });
    await zk.start();
    return zk;
  }

  /** A direct handle on the inbox store. */
  inbox(): Inbox {
    return new Inbox(dynamoClient(this.local.status.dynamo, "local"));
  }

  /** A connected client of `user`, on the WSS URLs of its home region (or `urls`). */
  async client(
    user: string,
    options: Partial<ChatClientOptions> & { region?: string } = {},
  ): Promise<ChatClient & { inbox: MsgFrame[] }> {
    const region = options.region ?? user.split(":")[1]!;
    const c = new ChatClient({
      urls: this.region(region).wss,
      token: () => this.token(user),
      ...options,
    }) as ChatClient & { inbox: MsgFrame[] };
    c.inbox = [];
    c.on("msg", (m: MsgFrame) => c.inbox.push(m));
    this.clients.push(c);
    await c.connect();
    return c;
  }

  /** POST /v1/messages as `from`. */
  async post(from: string, body: Record<string, unknown>, region?: string) {
    const cs = this.region(region ?? from.split(":")[1]!).cs;
    const res = await fetch(`${cs}/v1/messages`, {
      method: "POST",
      signal: AbortSignal.timeout(10_000),
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await this.token(from)}`,
      },
      body: JSON.stringify(body),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: res.status, body: json };
  }

  /** A request to a region's chat server API as `user` (the user's home region by default). */
  async api(
    user: string,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    region?: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const cs = this.region(region ?? user.split(":")[1]!).cs;
    const res = await fetch(`${cs}${path}`, {
      method,
      signal: AbortSignal.timeout(10_000),
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        authorization: `Bearer ${await this.token(user)}`,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: res.status, body: json };
  }

  /** Creates a group owned by `owner`; throws unless the chat server created it. */
  async createGroup(
    owner: string,
    id: string,
    members: readonly string[],
  ): Promise<void> {
    const res = await this.api(owner, "POST", "/v1/groups", { id, members });
    if (res.status !== 201) {
      throw new Error(
        `creating ${id} answered ${res.status}: ${JSON.stringify(res.body)}`,
      );
    }
  }

  /** A command connection to a region's Redis, with the apps' password. */
  redis(region: string): Redis {
    return new Redis(this.region(region).redis, {
      password: this.secrets.redisPassword,
      lazyConnect: false,
    });
  }

  /** A sender for runSenders: POST /v1/messages at the sender's home chat server. */
  httpSend(): SendFn {
    return async (from, to, body, clientMsgId) => {
      const res = await this.post(from, sendBody(to, body, clientMsgId));
      if (res.status !== 202) throw new Error(`send answered ${res.status}`);
      return String(res.body.id);
    };
  }

  /** Connects one client per user, all watched by `checker` from sequence 0. */
  async receivers(
    users: readonly string[],
    checker: DeliveryChecker,
    options: Partial<ChatClientOptions> = {},
  ) {
    return Promise.all(
      users.map(async (u) => {
        checker.watch(u);
        const c = await this.client(u, options);
        c.on("msg", (m: MsgFrame) => checker.received(u, m));
        return c;
      }),
    );
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.local.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves once `check` holds, polling; rejects with `what` after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
