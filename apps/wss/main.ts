// The WSS process: wires configuration, Redis, ZooKeeper presence, the inbox
// and the WebSocket server together.
import { hostname } from "node:os";

import { secretKey } from "../shared/auth.ts";
import {
  appRegion,
  inboxReachable,
  onShutdown,
  openDynamo,
  openGroups,
  openInbox,
  openLeases,
  openZk,
  redisTarget,
  startStep,
  tokenVerifier,
  zkDigest,
} from "../shared/bootstrap.ts";
import { intEnv, requireEnv } from "../shared/env.ts";
import { UserGroups } from "../shared/groups.ts";
import { postInternalSend } from "../shared/internal-send.ts";
import { createLogger } from "../shared/logger.ts";
import { wssMetrics } from "../shared/metrics.ts";
import { ensurePresenceTree, PresenceRegistrar } from "../shared/presence.ts";
import { openRedis } from "../shared/redis.ts";
import type { SendToChatServer } from "./connection.ts";
import { Hub } from "./hub.ts";
import { ChatWss } from "./server.ts";

const { regions, region, fanout } = appRegion();
const wssId = (process.env.CHAT_WSS_ID ?? `wss-${hostname()}-${process.pid}`)
  .toLowerCase()
  .replace(/[^a-z0-9.-]/g, "-");
const log = createLogger("wss", { region, wss: wssId });
const metrics = wssMetrics({ region, wss: wssId });
const verifier = tokenVerifier(regions);
const serviceKey = secretKey(requireEnv("CHAT_INTERNAL_SECRET"), "CHAT_INTERNAL_SECRET");
const csUrl = requireEnv("CHAT_CS_URL");
const alsoServed = new Set(
  (process.env.CHAT_SERVE_REGIONS ?? "").split(",").filter(Boolean),
);

const sub = openRedis(redisTarget(), {
  autoResubscribe: false,
  maxRetriesPerRequest: null,
});
const redis = openRedis(redisTarget(), { maxRetriesPerRequest: 2 });
sub.on("error", (err) => log.debug({ err }, "redis subscriber error"));
redis.on("error", (err) => log.debug({ err }, "redis error"));
sub.on("reconnecting", () => metrics.redisReconnects.inc({ role: "subscriber" }));
redis.on("reconnecting", () => metrics.redisReconnects.inc({ role: "commands" }));

const dynamo = openDynamo();
const inbox = openInbox();
const leases = openLeases(dynamo, regions);
const zk = openZk(log, metrics);
const presence = new PresenceRegistrar(zk, log, zkDigest());
presence.on("error", (err, c) =>
  log.warn({ err, conn: c.conn }, "presence registration failed"),
);

/** Hands a send from a socket to the region's chat server. */
const sendToCs: SendToChatServer = (from, req) => {
  const send = { ...req, from, sentAt: Date.now(), origin: "wss" as const };
  return postInternalSend(
    csUrl,
    "the chat server",
    serviceKey,
    `wss:${wssId}`,
    send,
    10_000,
  );
};

async function ready(): Promise<Record<string, boolean>> {
  return {
    redis: sub.status === "ready",
    zookeeper: zk.isConnected,
    inbox: await inboxReachable(dynamo, inbox),
  };
}

const userGroups = new UserGroups(redis, openGroups(dynamo));
const hub = new Hub(sub, log, {
  fanout,
  region,
  loadGroups: (user) => userGroups.get(user),
});
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
    metrics,
    verifier,
    serves,
    servedBy: (r) => leases.owner(r),
    subscriberReady: () => sub.status === "ready",
    redis,
    ready,
    maxBufferedBytes: intEnv("CHAT_MAX_BUFFERED_BYTES", 1024 * 1024),
    slowCloseMs: intEnv("CHAT_SLOW_CLOSE_MS", 60_000),
    resumeWaitMs: intEnv("CHAT_RESUME_WAIT_MS", 2000),
  },
  {
    heartbeatMs: intEnv("CHAT_HEARTBEAT_MS", 15_000),
    maxPayload: intEnv("CHAT_MAX_PAYLOAD_BYTES", 64 * 1024),
    framesPerSecond: intEnv("CHAT_RATE_FRAMES_PER_S", 50),
    sendsPerSecond: intEnv("CHAT_RATE_SENDS_PER_S", 20),
    setupConcurrency: intEnv("CHAT_SETUP_CONCURRENCY", 32),
  },
);

/** Users of a region are served here while this region holds that region's lease. */
function serves(r: string): boolean {
  return alsoServed.has(r) || leases.owner(r) === region;
}

/** Follows lease changes: users of a region no longer served here are sent on. */
async function followLeases(): Promise<void> {
  const before = new Map([...regions.keys()].map((r) => [r, serves(r)]));
  try {
    await leases.refresh();
  } catch (err) {
    log.debug({ err }, "lease refresh failed; keeping the last known owners");
    return;
  }
  for (const [r, was] of before) {
    if (was && !serves(r)) {
      log.warn(
        { leaseRegion: r, owner: leases.owner(r) },
        "region moved; sending its users on",
      );
      server.dropRegion(r, leases.owner(r));
    }
  }
}

await leases.refresh().catch(() => undefined);
setInterval(() => void followLeases(), intEnv("CHAT_LEASE_REFRESH_MS", 1000)).unref();
setInterval(() => metrics.groupChannels.set(hub.groupChannelCount), 1000).unref();
await hub.start();
await zk.start();
await startStep(log, "creating the presence tree", () =>
  ensurePresenceTree(zk, zkDigest()),
);
const port = intEnv("CHAT_PORT", 8080);
// A storm reconnects thousands of clients at once. With Node's default accept
// queue (511) the kernel drops the rest of their handshakes, and each dropped
// client waits a TCP retransmission (1 s, then 3 s) before it is even heard.
const backlog = intEnv("CHAT_LISTEN_BACKLOG", 4096);
server.http.listen({ port, host: process.env.CHAT_HOST ?? "0.0.0.0", backlog }, () => {
  log.info({ port, fanout, backlog }, "wss listening");
});

onShutdown(log, async () => {
  log.info({ connections: server.connections }, "draining");
  await server.drain();
  zk.close();
  sub.disconnect();
  redis.disconnect();
});
