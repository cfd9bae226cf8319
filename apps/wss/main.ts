// The WSS process: wires configuration, Redis, ZooKeeper presence, the inbox
// and the WebSocket server together.
import { hostname } from "node:os";

import { loadRegions } from "../../regions/schema.ts";
import { secretKey, signServiceToken } from "../shared/auth.ts";
import { ChatError } from "../shared/errors.ts";
import { intEnv, requireEnv } from "../shared/env.ts";
import { dynamoClient, Inbox } from "../shared/inbox.ts";
import { createLogger } from "../shared/logger.ts";
import { ensurePresenceTree, PresenceRegistrar } from "../shared/presence.ts";
import { openRedis } from "../shared/redis.ts";
import { ZkSession } from "../shared/zk.ts";
import type { SendToChatServer } from "./connection.ts";
import { Hub } from "./hub.ts";
import { ChatWss } from "./server.ts";

const regions = loadRegions(process.env.CHAT_REGIONS_DIR || undefined);
const region = requireEnv("CHAT_REGION");
if (!regions.has(region))
  throw new Error(`CHAT_REGION "${region}" is not declared in regions/`);

const wssId = (process.env.CHAT_WSS_ID ?? `wss-${hostname()}-${process.pid}`)
  .toLowerCase()
  .replace(/[^a-z0-9.-]/g, "-");
const log = createLogger("wss", { region, wss: wssId });
const userKey = secretKey(requireEnv("CHAT_JWT_SECRET"));
const serviceKey = secretKey(requireEnv("CHAT_INTERNAL_SECRET"), "CHAT_INTERNAL_SECRET");
const csUrl = requireEnv("CHAT_CS_URL");

const redisTarget = {
  url: requireEnv("CHAT_REDIS_URL"),
  password: process.env.CHAT_REDIS_PASSWORD || undefined,
};
const sub = openRedis(redisTarget, {
  autoResubscribe: false,
  maxRetriesPerRequest: null,
});
const redis = openRedis(redisTarget, { maxRetriesPerRequest: 2 });
sub.on("error", (err) => log.debug({ err }, "redis subscriber error"));
redis.on("error", (err) => log.debug({ err }, "redis error"));

const inbox = new Inbox(
  dynamoClient(
    process.env.CHAT_DYNAMO_ENDPOINT || undefined,
    process.env.AWS_REGION ?? "local",
  ),
  {
    inboxTable: process.env.CHAT_INBOX_TABLE || undefined,
    dedupTable: process.env.CHAT_DEDUP_TABLE || undefined,
  },
);

const zk = new ZkSession({
  connect: requireEnv("CHAT_ZK_CONNECT"),
  sessionTimeoutMs: intEnv("CHAT_ZK_SESSION_TIMEOUT_MS", 6000),
});
zk.on("expired", (id) => log.warn({ session: id }, "zookeeper session expired"));
const presence = new PresenceRegistrar(zk, log);
presence.on("error", (err, c) =>
  log.warn({ err, conn: c.conn }, "presence registration failed"),
);

const sendToCs: SendToChatServer = async (from, req) => {
  let res: Response;
  try {
    res = await fetch(`${csUrl}/internal/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await signServiceToken(serviceKey, `wss:${wssId}`)}`,
      },
      body: JSON.stringify({ ...req, from, sentAt: Date.now(), origin: "wss" }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new ChatError(
      "UNAVAILABLE",
      "chat server unreachable; retry with the same clientMsgId",
      {
        cause: err,
      },
    );
  }
  const body = (await res.json().catch(() => ({}))) as {
    id?: string;
    error?: { code: string; message: string };
  };
  if (res.status === 202 && body.id) return { id: body.id };
  const code = res.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST";
  throw new ChatError(code, body.error?.message ?? `chat server answered ${res.status}`);
};

async function ready(): Promise<Record<string, boolean>> {
  const inboxOk = await inbox.ping().then(
    () => true,
    () => false,
  );
  return { redis: sub.status === "ready", zookeeper: zk.isConnected, inbox: inboxOk };
}

const hub = new Hub(sub, log);
const server = new ChatWss(
  {
    wssId,
    region,
    regions,
    inbox,
    hub,
    presence,
    sendToCs,
    log,
    userKey,
    redis,
    ready,
    maxBufferedBytes: intEnv("CHAT_MAX_BUFFERED_BYTES", 1024 * 1024),
    resumeWaitMs: intEnv("CHAT_RESUME_WAIT_MS", 2000),
    settleMs: intEnv("CHAT_SETTLE_MS", 1000),
  },
  { heartbeatMs: intEnv("CHAT_HEARTBEAT_MS", 15_000) },
);

await zk.start();
await ensurePresenceTree(zk);
const port = intEnv("CHAT_PORT", 8080);
server.http.listen(port, process.env.CHAT_HOST ?? "0.0.0.0", () => {
  log.info({ port }, "wss listening");
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal, connections: server.connections }, "draining");
  await server.drain();
  zk.close();
  sub.disconnect();
  redis.disconnect();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
if (process.env.CHAT_EXIT_WITH_PARENT === "1") {
  // Local mode: the runtime holds our stdin; when it dies, so do we.
  process.stdin.on("end", () => void shutdown("parent gone"));
  process.stdin.resume();
}
