// The chat server process: wires configuration, stores, presence, the send
// path, the acknowledgement worker and the HTTP API together.
import { hostname } from "node:os";

import { loadRegions } from "../../regions/schema.ts";
import { secretKey, signServiceToken } from "../shared/auth.ts";
import { ChatError } from "../shared/errors.ts";
import { intEnv, jsonEnv, requireEnv } from "../shared/env.ts";
import { dynamoClient, Inbox } from "../shared/inbox.ts";
import { createLogger } from "../shared/logger.ts";
import { PresenceCache } from "../shared/presence.ts";
import { openRedis } from "../shared/redis.ts";
import { ZkSession } from "../shared/zk.ts";
import { AckWorker } from "./ack-worker.ts";
import { Delivery, type Accepted, type Submission } from "./delivery.ts";
import { createApi } from "./http.ts";
import { Publisher } from "./publisher.ts";

const regions = loadRegions(process.env.CHAT_REGIONS_DIR || undefined);
const region = requireEnv("CHAT_REGION");
if (!regions.has(region))
  throw new Error(`CHAT_REGION "${region}" is not declared in regions/`);

const csId = process.env.CHAT_CS_ID ?? `cs-${hostname()}-${process.pid}`;
const log = createLogger("chat-server", { region, cs: csId });
const userKey = secretKey(requireEnv("CHAT_JWT_SECRET"));
const serviceKey = secretKey(requireEnv("CHAT_INTERNAL_SECRET"), "CHAT_INTERNAL_SECRET");
const peers = jsonEnv<Record<string, string>>("CHAT_CS_PEERS", {});

const redisTarget = {
  url: requireEnv("CHAT_REDIS_URL"),
  password: process.env.CHAT_REDIS_PASSWORD || undefined,
};
const redis = openRedis(redisTarget, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
});
const ackRedis = openRedis(redisTarget, { maxRetriesPerRequest: null });
redis.on("error", (err) => log.debug({ err }, "redis error"));
ackRedis.on("error", (err) => log.debug({ err }, "redis error (ack worker)"));

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
const presence = new PresenceCache(zk, log);
const publisher = new Publisher(redis, log);

async function forward(to: string, s: Submission): Promise<Accepted> {
  const url = peers[to];
  if (!url)
    throw new ChatError("UNAVAILABLE", `no chat server is configured for region ${to}`);

  let res: Response;
  try {
    res = await fetch(`${url}/internal/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await signServiceToken(serviceKey, `cs:${region}`)}`,
      },
      body: JSON.stringify({ ...s, origin: "peer" }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    throw new ChatError(
      "UNAVAILABLE",
      `region ${to} is unreachable; retry with the same clientMsgId`,
      {
        cause: err,
      },
    );
  }
  const body = (await res.json().catch(() => ({}))) as Accepted & {
    error?: { message: string };
  };
  if (res.status !== 202) {
    throw new ChatError(
      res.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST",
      body.error?.message ?? `region ${to} answered ${res.status}`,
    );
  }
  return { id: body.id, duplicate: body.duplicate };
}

const delivery = new Delivery(region, regions, inbox, presence, publisher, forward, log);
const acks = new AckWorker(ackRedis, inbox, csId, log);

async function ready(): Promise<Record<string, boolean>> {
  const inboxOk = await inbox.ping().then(
    () => true,
    () => false,
  );
  return { redis: redis.status === "ready", zookeeper: presence.synced, inbox: inboxOk };
}

const api = createApi({ regions, delivery, inbox, userKey, serviceKey, ready, log });

await zk.start();
await presence.start();
acks.start();
const port = intEnv("CHAT_PORT", 8081);
api.listen(port, process.env.CHAT_HOST ?? "0.0.0.0", () => {
  log.info({ port }, "chat server listening");
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  api.close();
  api.closeIdleConnections();
  await acks.stop();
  publisher.close();
  zk.close();
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
