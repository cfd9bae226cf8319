// What both apps' main modules do the same way: read the region, open the
// inbox, Redis and ZooKeeper from the environment, and stop on a signal.
import { DescribeTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";

import {
  fanoutSetting,
  loadRegions,
  type Fanout,
  type Regions,
} from "../../regions/schema.ts";
import { TokenVerifier } from "./auth.ts";
import { intEnv, requireEnv } from "./env.ts";
import { GroupStore } from "./groups.ts";
import { dynamoClient, Inbox } from "./inbox.ts";
import { RegionLeases } from "./leases.ts";
import type { Logger } from "./logger.ts";
import type { wssMetrics } from "./metrics.ts";
import type { RedisTarget } from "./redis.ts";
import { ZkSession } from "./zk.ts";

type WssMetrics = ReturnType<typeof wssMetrics>;

/**
 * The declared regions, this process's own region (CHAT_REGION) and the
 * fan-out mode: CHAT_FANOUT when set (the deployment sets it from
 * deployment.json), else deployment.json of the regions folder.
 */
export function appRegion(): { regions: Regions; region: string; fanout: Fanout } {
  const dir = process.env.CHAT_REGIONS_DIR || undefined;
  const regions = loadRegions(dir);
  const region = requireEnv("CHAT_REGION");
  if (!regions.has(region)) {
    throw new Error(`CHAT_REGION "${region}" is not declared in regions/`);
  }
  return { regions, region, fanout: fanoutSetting(process.env.CHAT_FANOUT, dir) };
}

export function tokenVerifier(regions: Regions): TokenVerifier {
  return new TokenVerifier(regions, {
    hsSecret: process.env.CHAT_JWT_SECRET || undefined,
    jwksUrl: process.env.CHAT_JWKS_URL || undefined,
    audience: process.env.CHAT_JWT_AUDIENCE || undefined,
  });
}

export function redisTarget(): RedisTarget {
  // TODO(#4): the apps speak to one Redis shard. A region file with
  // redis.clusterMode true (CHAT_REDIS_CLUSTER=true) needs sharded pub/sub
  // (SSUBSCRIBE per slot, SPUBLISH) in the WSS hub and publisher; until then
  // such a region cannot run the apps, so they refuse to start.
  if (process.env.CHAT_REDIS_CLUSTER === "true") {
    throw new Error(
      "CHAT_REDIS_CLUSTER=true: the apps do not support Redis cluster mode yet; " +
        'set "clusterMode": false in the region file',
    );
  }
  return {
    url: requireEnv("CHAT_REDIS_URL"),
    password: process.env.CHAT_REDIS_PASSWORD || undefined,
  };
}

/** The DynamoDB client of the inbox store (CHAT_DYNAMO_ENDPOINT in local mode). */
export function openDynamo(options: { cacheMiddleware?: boolean } = {}): DynamoDBClient {
  return dynamoClient(
    process.env.CHAT_DYNAMO_ENDPOINT || undefined,
    process.env.AWS_REGION ?? "local",
    options,
  );
}

/** The inbox, on a client of its own that resolves each command's middleware once. */
export function openInbox(): Inbox {
  return new Inbox(openDynamo({ cacheMiddleware: true }), {
    inboxTable: process.env.CHAT_INBOX_TABLE || undefined,
    dedupTable: process.env.CHAT_DEDUP_TABLE || undefined,
  });
}

/** Groups, kept in the control (dedup) table beside the leases. */
export function openGroups(client: DynamoDBClient): GroupStore {
  return new GroupStore(client, { table: process.env.CHAT_DEDUP_TABLE || undefined });
}

/** Region leases, kept in the control (dedup) table; CHAT_LEASE_MS sets their length. */
export function openLeases(client: DynamoDBClient, regions: Regions): RegionLeases {
  return new RegionLeases(client, [...regions.keys()], {
    table: process.env.CHAT_DEDUP_TABLE || undefined,
    leaseMs: intEnv("CHAT_LEASE_MS", 10_000),
  });
}

/** The ZooKeeper digest credential (`user:password`) guarding the presence tree. */
export function zkDigest(): string | undefined {
  return process.env.CHAT_ZK_DIGEST || undefined;
}

/** A ZooKeeper session whose state is logged and exported as metrics. */
export function openZk(log: Logger, metrics: WssMetrics): ZkSession {
  const zk = new ZkSession({
    connect: requireEnv("CHAT_ZK_CONNECT"),
    sessionTimeoutMs: intEnv("CHAT_ZK_SESSION_TIMEOUT_MS", 6000),
    digest: zkDigest(),
  });
  zk.on("expired", (id: string) => {
    metrics.zkExpired.inc();
    log.warn({ session: id }, "zookeeper session expired");
  });
  zk.on("session", () => metrics.zkConnected.set(1));
  zk.on("reconnected", () => metrics.zkConnected.set(1));
  zk.on("disconnected", () => metrics.zkConnected.set(0));
  return zk;
}

/**
 * Runs a start-up step until it succeeds (a store that is slow to answer at
 * start is not a reason to exit), for up to `forMs`; then the error stands.
 */
export async function startStep<T>(
  log: Logger,
  what: string,
  step: () => Promise<T>,
  forMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      log.warn({ err }, `${what} failed at start; retrying`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * True when the inbox table answers within `timeoutMs`. Asked on a client
 * other than the inbox's own, whose cached middleware an abort signal would
 * empty on every readiness check.
 */
export function inboxReachable(
  client: DynamoDBClient,
  inbox: Inbox,
  timeoutMs = 2000,
): Promise<boolean> {
  // A store that stops answering must make readiness say so, not hang it.
  const describe = new DescribeTableCommand({ TableName: inbox.inboxTable });
  return client.send(describe, { abortSignal: AbortSignal.timeout(timeoutMs) }).then(
    () => true,
    () => false,
  );
}

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits. In local mode
 * (CHAT_EXIT_WITH_PARENT=1) the runtime holds our stdin: when it dies, so do we.
 */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const run = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await stop().catch((err: unknown) => log.error({ err }, "unclean stop"));
    process.exit(0);
  };
  process.on("SIGTERM", () => void run("SIGTERM"));
  process.on("SIGINT", () => void run("SIGINT"));
  if (process.env.CHAT_EXIT_WITH_PARENT === "1") {
    process.stdin.on("end", () => void run("parent gone"));
    process.stdin.resume();
  }
}
