// The chat server process: wires configuration, stores, the send path, the
// acknowledgement worker and the HTTP API together. It does not read presence:
// it publishes every stored message (docs/delivery.md), so it needs no
// ZooKeeper session.
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
  redisTarget,
  startStep,
  tokenVerifier,
} from "../shared/bootstrap.ts";
import { ChatError } from "../shared/errors.ts";
import { intEnv, jsonEnv, requireEnv } from "../shared/env.ts";
import { UserGroups } from "../shared/groups.ts";
import { postInternal, postInternalSend } from "../shared/internal-send.ts";
import { createLogger } from "../shared/logger.ts";
import { csMetrics } from "../shared/metrics.ts";
import { RateLimiter } from "../shared/rate-limit.ts";
import { openRedis } from "../shared/redis.ts";
import { AckWorker } from "./ack-worker.ts";
import { LeaseKeeper } from "./lease-keeper.ts";
import {
  Delivery,
  type Accepted,
  type GroupCopies,
  type Submission,
} from "./delivery.ts";
import { createApi } from "./http.ts";
import { MembershipAnnouncer, type MembershipChange } from "./membership.ts";
import { Publisher } from "./publisher.ts";

const { regions, region, fanout } = appRegion();
const csId = process.env.CHAT_CS_ID ?? `cs-${hostname()}-${process.pid}`;
const log = createLogger("chat-server", { region, cs: csId });
const metrics = csMetrics({ region, cs: csId });
const verifier = tokenVerifier(regions);
const serviceKey = secretKey(requireEnv("CHAT_INTERNAL_SECRET"), "CHAT_INTERNAL_SECRET");
const peers = jsonEnv<Record<string, string>>("CHAT_CS_PEERS", {});

const redis = openRedis(redisTarget(), {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
});
const ackRedis = openRedis(redisTarget(), { maxRetriesPerRequest: null });
redis.on("error", (err) => log.debug({ err }, "redis error"));
ackRedis.on("error", (err) => log.debug({ err }, "redis error (ack worker)"));
redis.on("reconnecting", () => metrics.redisReconnects.inc({ role: "publisher" }));
ackRedis.on("reconnecting", () => metrics.redisReconnects.inc({ role: "ack-worker" }));

const dynamo = openDynamo();
const inbox = openInbox();
const leases = openLeases(dynamo, regions);
const publisher = new Publisher(redis, log);
const groups = openGroups(dynamo);
const userGroups = new UserGroups(redis, groups);

/** The base URL of another region's chat server. */
function peerUrl(to: string): string {
  const url = peers[to];
  if (!url) {
    throw new ChatError("UNAVAILABLE", `no chat server is configured for region ${to}`);
  }
  return url;
}

/** Hands a message to the chat server of the recipient's region. */
function forward(to: string, s: Submission): Promise<Accepted> {
  const send = { ...s, origin: "peer" as const };
  return postInternalSend(
    peerUrl(to),
    `region ${to}`,
    serviceKey,
    `cs:${region}`,
    send,
    5000,
  );
}

/** Hands a group message's copies to the chat server serving their region. */
async function forwardCopies(
  to: string,
  c: GroupCopies,
): Promise<{ duplicates: number }> {
  const url = `${peerUrl(to)}/internal/v1/group-copies`;
  // Storing takes a few ms per member there: the wait grows with the batch.
  const timeoutMs = 10_000 + 10 * c.members.length;
  const out = await postInternal(
    url,
    `region ${to}`,
    serviceKey,
    `cs:${region}`,
    c,
    timeoutMs,
  );
  return { duplicates: Number(out.duplicates ?? 0) };
}

/** Announces a membership change to another region's chat server. */
async function forwardChange(to: string, change: MembershipChange): Promise<void> {
  const url = `${peerUrl(to)}/internal/v1/group-changes`;
  await postInternal(url, `region ${to}`, serviceKey, `cs:${region}`, change, 5000);
}

// Membership changes go to every other region that has a chat server (a local
// system may run only some of the declared regions).
const announcer = new MembershipAnnouncer(
  region,
  [...regions.keys()].filter((r) => r !== region && peers[r] !== undefined),
  redis,
  userGroups,
  forwardChange,
  log,
);

const copiesPerSecond = intEnv("CHAT_RATE_GROUP_COPIES_PER_S", 5000);
const groupCopies = new RateLimiter({
  rate: copiesPerSecond,
  burst: copiesPerSecond * 4,
});

const delivery = new Delivery({
  region,
  regions,
  inbox,
  publisher,
  leases,
  forward,
  forwardCopies,
  groups,
  groupCopies,
  fanout,
  log,
  metrics,
});
const keeper = new LeaseKeeper(leases, region, [...regions.keys()], homeReady, log);

/** True when a region's own chat server answers ready. */
async function homeReady(other: string): Promise<boolean> {
  const url = peers[other];
  if (!url) return false;
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
  return res.status === 200;
}

const acks = new AckWorker(
  ackRedis,
  inbox,
  csId,
  log,
  (user, upTo) => {
    metrics.acksApplied.inc();
    delivery.backlog.acked(user, upTo);
  },
  { flushMs: intEnv("CHAT_ACK_FLUSH_MS", 5000) },
);
setInterval(() => {
  metrics.inboxBacklog.set(delivery.backlog.total);
  metrics.publishBacklog.set(publisher.backlog);
}, 1000).unref();

async function ready(): Promise<Record<string, boolean>> {
  return {
    redis: redis.status === "ready",
    inbox: await inboxReachable(dynamo, inbox),
  };
}

const sendsPerSecond = intEnv("CHAT_RATE_SENDS_PER_S", 20);
const userSends = new RateLimiter({ rate: sendsPerSecond, burst: sendsPerSecond * 4 });
const api = createApi({
  regions,
  delivery,
  groupApi: { regions, groups, delivery, announcer },
  inbox,
  verifier,
  serviceKey,
  userSends,
  metrics,
  ready,
  log,
});

await startStep(log, "reading the region leases", () => keeper.start());
acks.start();
const port = intEnv("CHAT_PORT", 8081);
api.listen(port, process.env.CHAT_HOST ?? "0.0.0.0", () => {
  log.info({ port, fanout }, "chat server listening");
});

onShutdown(log, async () => {
  // Requests in flight finish (up to 5 s); idle keep-alive connections go now.
  const closed = new Promise<void>((resolve) => api.close(() => resolve()));
  api.closeIdleConnections();
  await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
  keeper.stop();
  announcer.stop();
  await acks.stop();
  publisher.close();
  redis.disconnect();
});
