// Drills against a local system of their own: inject one fault while
// synthetic senders and receivers run, measure detection and recovery, count
// what was lost, duplicated or reordered, and judge against thresholds.
import { Redis } from "ioredis";

import type { Fanout } from "../../../regions/schema.ts";
import { zkDigestOf, type LocalSystem } from "../../local/runtime.ts";
import { zkMode } from "../../local/services.ts";
import { dynamoClient } from "../../shared/inbox.ts";
import { RegionLeases } from "../../shared/leases.ts";
import { listPresence } from "../../shared/presence.ts";
import { ZkSession } from "../../shared/zk.ts";
import { DrillHarness, type Receiver } from "./harness.ts";
import { judge, percentiles, type DrillReport, type Thresholds } from "./report.ts";

export const LOCAL_SCENARIOS = [
  "wss-crash",
  "redis-outage",
  "redis-failover",
  "zk-node-loss",
  "zk-session-expiry",
  "region-outage",
] as const;
export type LocalScenario = (typeof LOCAL_SCENARIOS)[number];

export interface LocalDrillOptions {
  /** @default "usa" */
  readonly region?: string;
  /** How long a fault with a duration lasts (redis-outage), ms. @default 5000 */
  readonly durationMs?: number;
  /** Receivers in the drilled region. @default 20 */
  readonly users?: number;
  /** Messages per second from the synthetic senders, in all. @default 40 */
  readonly rate?: number;
  readonly thresholds?: Thresholds;
  /** The fan-out mode of the system a drill starts. @default regions/deployment.json */
  readonly fanout?: Fanout;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /**
   * Drill this running system instead of starting one (it is left running).
   * zk-node-loss needs it started with zkEnsemble 3, redis-failover with redisReplica.
   */
  readonly system?: LocalSystem;
}

/** What a scenario measured, before the message counts are added. */
interface Outcome {
  readonly faultAt: number;
  readonly timeToDetectMs: number | null;
  readonly affected: readonly Receiver[];
  readonly recovery: readonly number[];
}

type Scenario = (
  h: DrillHarness,
  o: Required<Omit<LocalDrillOptions, "system" | "fanout">>,
) => Promise<Outcome>;

export async function runLocalDrill(
  scenario: LocalScenario,
  options: LocalDrillOptions = {},
): Promise<DrillReport> {
  const o: Required<Omit<LocalDrillOptions, "system" | "fanout">> = {
    region: options.region ?? "usa",
    durationMs: options.durationMs ?? 5000,
    users: options.users ?? 20,
    rate: options.rate ?? 40,
    thresholds: options.thresholds ?? {},
    log: options.log ?? (() => undefined),
  };
  const h = options.system
    ? DrillHarness.attach(options.system, o.region, o.log)
    : await DrillHarness.start(
        o.region,
        { ...systemFor(scenario), fanout: options.fanout },
        o.log,
      );
  try {
    await h.connectReceivers(o.users);
    h.startTraffic(o.rate);
    await new Promise((r) => setTimeout(r, 1500));

    const outcome = await SCENARIOS[scenario](h, o);
    await new Promise((r) => setTimeout(r, 1500));
    await h.stopTraffic();
    const counts = await h.checker.settle(30_000);
    h.step("all accepted messages accounted for");
    await h.explainLosses(counts);
    return judge(
      {
        scenario,
        target: "local",
        region: o.region,
        fanout: h.system.status.fanout,
        timeToDetectMs: outcome.timeToDetectMs,
        recovery: percentiles(outcome.recovery),
        affectedClients: outcome.affected.length,
        sent: counts.sent,
        delivered: counts.delivered,
        lost: counts.lost,
        duplicated: counts.duplicated,
        outOfOrder: counts.outOfOrder,
        steps: h.steps,
      },
      o.thresholds,
    );
  } finally {
    await h.stop();
  }
}

function systemFor(scenario: LocalScenario) {
  if (scenario === "zk-node-loss") return { zkEnsemble: 3 as const };
  if (scenario === "redis-failover") return { redisReplica: true };
  return {};
}

const RECOVERY_TIMEOUT_MS = 30_000;

const SCENARIOS: Record<LocalScenario, Scenario> = {
  async "wss-crash"(h, o) {
    const victim = `${o.region}-wss-1`;
    const url = h.system.status.regions[o.region]!.wss[0]!;
    const affected = h.receivers.filter((r) => r.client.url === url);
    const faultAt = Date.now();
    await h.system.signal(victim, "SIGKILL");
    h.step(`SIGKILL ${victim} (${affected.length} receivers on it)`);
    const detect = await h.until(
      () => affected.some((r) => r.closes.some((c) => c >= faultAt)),
      faultAt,
      10_000,
    );
    const recovery = await h.receivingAgain(affected, faultAt, RECOVERY_TIMEOUT_MS);
    h.step("every affected receiver is receiving again");
    await h.system.restart(victim);
    h.step(`${victim} restarted`);
    return { faultAt, timeToDetectMs: detect, affected, recovery };
  },

  async "redis-outage"(h, o) {
    const redis = `${o.region}-redis`;
    const cs = h.system.status.regions[o.region]!.cs;
    const faultAt = Date.now();
    await h.system.signal(redis, "SIGKILL");
    h.step(`stopped ${redis} for ${o.durationMs} ms`);
    const detect = await h.until(
      async () => (await ready(cs)) === false,
      faultAt,
      10_000,
    );
    await new Promise((r) =>
      setTimeout(r, Math.max(0, o.durationMs - (Date.now() - faultAt))),
    );
    await h.system.restart(redis);
    h.step(`${redis} started again`);
    const recovery = await h.receivingAgain(h.receivers, faultAt, RECOVERY_TIMEOUT_MS);
    h.step("every receiver is receiving again");
    return { faultAt, timeToDetectMs: detect, affected: h.receivers, recovery };
  },

  async "redis-failover"(h, o) {
    const faultAt = Date.now();
    const { from, to } = await h.system.failoverRedis(o.region);
    h.step(`promoted the replica (port ${to}), demoted the old primary (port ${from})`);
    const password = h.system.options.secrets.redisPassword;
    // Detected once the apps write to the new primary (acknowledgements, publishes).
    const before = await commandsOn(to, password);
    const detect = await h.until(
      async () => (await commandsOn(to, password)) > before + 5,
      faultAt,
      15_000,
    );
    const recovery = await h.receivingAgain(h.receivers, faultAt, RECOVERY_TIMEOUT_MS);
    h.step("every receiver is receiving again");
    return { faultAt, timeToDetectMs: detect, affected: h.receivers, recovery };
  },

  async "zk-node-loss"(h, o) {
    const nodes = h.system.ofRegion(o.region).filter((p) => p.kind === "zookeeper");
    const modes = await Promise.all(nodes.map((n) => zkMode(n.port)));
    const leader = nodes[modes.indexOf("leader")] ?? nodes[0]!;
    const rest = nodes.filter((n) => n !== leader);
    const faultAt = Date.now();
    await h.system.signal(leader.name, "SIGKILL");
    h.step(`SIGKILL ${leader.name} (the ${modes[nodes.indexOf(leader)]})`);
    const detect = await h.until(
      async () => (await Promise.all(rest.map((n) => zkMode(n.port)))).includes("leader"),
      faultAt,
      15_000,
    );
    h.step("the remaining nodes elected a leader");
    const recovery = await h.receivingAgain(h.receivers, faultAt, RECOVERY_TIMEOUT_MS);
    await h.system.restart(leader.name);
    h.step(`${leader.name} restarted`);
    return { faultAt, timeToDetectMs: detect, affected: h.receivers, recovery };
  },

  async "zk-session-expiry"(h, o) {
    const victim = `${o.region}-wss-1`;
    const url = h.system.status.regions[o.region]!.wss[0]!;
    const affected = h.receivers.filter((r) => r.client.url === url);
    const zk = new ZkSession({
      connect: h.system.status.regions[o.region]!.zookeeper,
      digest: zkDigestOf(h.system.options.secrets),
    });
    await zk.start();
    try {
      const faultAt = Date.now();
      await h.system.signal(victim, "SIGSTOP");
      h.step(`paused ${victim} past its ZooKeeper session timeout`);
      const detect = await h.until(
        async () => (await presenceOf(zk, victim)) === 0,
        faultAt,
        20_000,
      );
      h.step("its session expired: its presence nodes are gone");
      await h.system.signal(victim, "SIGCONT");
      h.step(`resumed ${victim}`);
      const back = await h.until(
        async () => (await presenceOf(zk, victim)) > 0,
        faultAt,
        20_000,
      );
      h.step(`presence registered again (${back ?? "never"} ms after the pause)`);
      const recovery = await h.receivingAgain(affected, faultAt, RECOVERY_TIMEOUT_MS);
      return { faultAt, timeToDetectMs: detect, affected, recovery };
    } finally {
      zk.close();
    }
  },

  async "region-outage"(h, o) {
    const leases = new RegionLeases(
      dynamoClient(h.system.status.dynamo, "local"),
      Object.keys(h.system.status.regions),
    );
    const faultAt = Date.now();
    await h.system.killRegion(o.region);
    h.step(`stopped every process of ${o.region}`);
    const detect = await h.until(
      async () => {
        await leases.refresh();
        return leases.owner(o.region) !== o.region;
      },
      faultAt,
      30_000,
    );
    h.step(
      `${leases.owner(o.region)} took over ${o.region}'s lease ` +
        `(epoch ${leases.get(o.region)?.epoch})`,
    );
    const recovery = await h.receivingAgain(h.receivers, faultAt, RECOVERY_TIMEOUT_MS);
    h.step(`every ${o.region} receiver is receiving again through another region`);

    const restoredAt = Date.now();
    await h.system.restoreRegion(o.region);
    h.step(
      `${o.region} restored (its processes restarted in ${Date.now() - restoredAt} ms)`,
    );
    const home = new Set(h.system.status.regions[o.region]!.wss);
    const back = await h.until(
      async () => {
        await leases.refresh();
        return (
          leases.owner(o.region) === o.region &&
          h.receivers.every((r) => r.client.connected && home.has(r.client.url))
        );
      },
      restoredAt,
      60_000,
    );
    h.step(
      back === null
        ? `receivers did NOT all move back home`
        : `every receiver back home ${back} ms after the restore began`,
    );
    const afterBack = Date.now();
    await h.receivingAgain(h.receivers, afterBack, RECOVERY_TIMEOUT_MS);
    h.step("every receiver is receiving at home");
    return { faultAt, timeToDetectMs: detect, affected: h.receivers, recovery };
  },
};

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

async function commandsOn(port: number, password: string): Promise<number> {
  const r = new Redis({
    port,
    host: "127.0.0.1",
    password,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on("error", () => undefined);
  try {
    const stats = await r.info("commandstats");
    const writes = ["publish", "xadd", "xreadgroup", "xack"].map((c) =>
      Number(new RegExp(`cmdstat_${c}:calls=(\\d+)`).exec(stats)?.[1] ?? 0),
    );
    return writes.reduce((a, b) => a + b, 0);
  } finally {
    r.disconnect();
  }
}

async function presenceOf(zk: ZkSession, wss: string): Promise<number> {
  return (await listPresence(zk)).filter((n) => n.includes(`~${wss}~`)).length;
}
