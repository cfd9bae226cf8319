// Benchmark 4, reconnect storm: 5,000 clients connected over two servers,
// background traffic to all of them, then one server is SIGKILLed. Its
// clients reconnect to the other (backoff with jitter, as the client library
// does). Measured: time until every one of them is connected again and
// receives again, what was lost, and for ours the ZooKeeper and inbox load the
// storm caused. Ours sends through the chat server (stored, then published);
// the peers publish on Redis, as they have no inbox.
import { zkFourLetter } from "../apps/local/services.ts";
import {
  nowUs,
  type SenderArgs,
  type StormEnd,
  type StormRecovery,
} from "./load/protocol.ts";
import {
  CpuMeter,
  profileFlags,
  ratio,
  round,
  urlsFor,
  userName,
  type BenchContext,
} from "./lib/context.ts";
import { countsDelta } from "./lib/dynamo-proxy.ts";
import { LoadGen } from "./lib/loadgen.ts";
import { sleep } from "./lib/procs.ts";
import { startTarget, type SystemName, type Target } from "./lib/targets.ts";

/** Load on the stores: per second before the kill, and in total from kill to recovery. */
export interface StoreLoad {
  readonly steadyPerSec: Record<string, number>;
  readonly storm: Record<string, number>;
}

export interface StormRun {
  readonly system: SystemName;
  readonly clients: number;
  readonly recovery?: StormRecovery;
  readonly end?: StormEnd;
  /** Share of one core each process used from the kill until recovery. */
  readonly stormCpu: Record<string, number>;
  /** Ours: ZooKeeper counters (`mntr`) and inbox requests by operation. */
  readonly zookeeper?: StoreLoad;
  readonly inbox?: StoreLoad;
  readonly error?: string;
}

export interface StormData {
  readonly clients: number;
  readonly backgroundRate: number;
  readonly runs: StormRun[];
  readonly ratios: {
    readonly receiveMaxVsGateway: number | null;
    readonly receiveMaxVsSocketIo: number | null;
  };
}

// The background rate is one every system keeps up with before the kill: the
// end-to-end benchmark sustains 200-250 msg/s through ours on these two cores
// (each message stored first), so 100 msg/s leaves the storm measured on its
// own, not on top of a backlog that grows with the steady phase. At 500 msg/s
// ours fell behind before the kill (docs/benchmarks.md, "Reconnect storm").
const FULL = {
  clients: 5000,
  rate: 100,
  steadyMs: 3000,
  timeoutMs: 60_000,
  tailMs: 2000,
};
const QUICK = {
  clients: 600,
  rate: 100,
  steadyMs: 2000,
  timeoutMs: 30_000,
  tailMs: 1000,
};
type Settings = typeof FULL;

/** ZooKeeper `mntr` counters worth reporting. */
const ZK_KEYS = [
  "zk_packets_received",
  "zk_packets_sent",
  "zk_znode_count",
  "zk_ephemerals_count",
  "zk_watch_count",
  "zk_num_alive_connections",
];

export async function runStorm(ctx: BenchContext): Promise<StormData> {
  const s = ctx.quick ? QUICK : FULL;
  const runs: StormRun[] = [];
  for (const system of ctx.systems) {
    ctx.log(`storm: ${system}`);
    const r = await runSystem(ctx, system, s);
    runs.push(r);
    const rec = r.recovery;
    if (rec) {
      ctx.log(
        `  ${system}: ${rec.affected} affected, connected again in ${rec.reconnectMs.max} ms,` +
          ` receiving again in ${rec.receiveMs.max} ms (p50 ${rec.receiveMs.p50}),` +
          ` ${rec.notRecovered} not recovered; lost ${r.end?.lost}, dup ${r.end?.duplicated}`,
      );
    }
  }
  const max = (n: SystemName) =>
    runs.find((r) => r.system === n)?.recovery?.receiveMs.max;
  return {
    clients: s.clients,
    backgroundRate: s.rate,
    runs,
    ratios: {
      receiveMaxVsGateway: ratio(max("ours"), max("gateway")),
      receiveMaxVsSocketIo: ratio(max("ours"), max("socketio")),
    },
  };
}

async function runSystem(
  ctx: BenchContext,
  system: SystemName,
  s: Settings,
): Promise<StormRun> {
  let target: Target | undefined;
  let lg: LoadGen | undefined;
  const out: { -readonly [K in keyof StormRun]: StormRun[K] } = {
    system,
    clients: s.clients,
    stormCpu: {},
  };
  try {
    target = await startTarget(system, {
      servers: 2,
      profileDir: ctx.profileDir,
      countInbox: true,
    });
    lg = await LoadGen.start(profileFlags(ctx, `loadgen-storm-${system}`));
    const t = target;
    const clients = await Promise.all(
      Array.from({ length: s.clients }, async (_, i) => ({
        user: userName(i),
        urls: urlsFor(t, i),
        token: t.ours ? await t.ours.token(userName(i)) : undefined,
      })),
    );
    const conn = await lg.call("connect", {
      proto: t.proto,
      clients,
      concurrency: 200,
      ackEveryMs: 1000,
      reconnect: true,
      timeoutMs: 240_000,
    });
    if (conn.connected !== s.clients) {
      throw new Error(
        `only ${conn.connected} of ${s.clients} connected: ${conn.firstError}`,
      );
    }
    await lg.call("sender", await senderFor(t));
    await lg.call("stormSnapshot", { url: t.urls[0]! });
    const procs = t.processes();
    const cpu = new CpuMeter(() => procs.map((p) => p.pid));
    const zk = t.ours ? () => zkCounters(t.ours!.zkPort) : async () => ({});
    const inbox = () => t.ours?.proxy?.snapshot() ?? {};

    await lg.call("stormBegin", { rate: s.rate });
    const [zk0, in0] = [await zk(), inbox()];
    await sleep(s.steadyMs);
    const [zk1, in1] = [await zk(), inbox()];

    cpu.start();
    const killedAtUs = nowUs();
    await t.kill(0);
    out.recovery = await lg.call(
      "stormAfterKill",
      { killedAtUs, timeoutMs: s.timeoutMs },
      s.timeoutMs + 30_000,
    );
    const [zk2, in2] = [await zk(), inbox()];
    const shares = cpu.stop();
    out.stormCpu = Object.fromEntries(procs.map((p, i) => [p.name, shares[i]!]));
    await sleep(s.tailMs);
    out.end = await lg.call("stormEnd", { drainMs: 10_000 });

    if (t.ours) {
      const perSec = (d: Record<string, number>) =>
        Object.fromEntries(
          Object.entries(d).map(([k, v]) => [k, round(v / (s.steadyMs / 1000), 1)]),
        );
      out.zookeeper = {
        steadyPerSec: perSec(countsDelta(zk1, zk0)),
        storm: { ...countsDelta(zk2, zk1), ...gauges(zk2) },
      };
      out.inbox = {
        steadyPerSec: perSec(countsDelta(in1, in0)),
        storm: countsDelta(in2, in1),
      };
    }
  } catch (err) {
    out.error = String(err);
    ctx.log(`  ${system} failed: ${out.error}`);
  } finally {
    await lg?.stop();
    await target?.stop();
  }
  return out;
}

async function senderFor(t: Target): Promise<SenderArgs> {
  if (!t.ours) {
    const via = t.name === "socketio" ? "socketio" : "plain";
    return { kind: "redis", url: t.redis.url, password: t.redis.password, via };
  }
  // Many senders: the chat server limits each to 20 sends a second.
  const tokens = await Promise.all(
    Array.from({ length: 200 }, (_, k) => t.ours!.token(`sender${k}:usa`)),
  );
  return { kind: "http", cs: t.ours.cs, tokens, maxInFlight: 64 };
}

async function zkCounters(port: number): Promise<Record<string, number>> {
  const text = await zkFourLetter(port, "mntr").catch(() => "");
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.split("\t");
    if (k && ZK_KEYS.includes(k) && v !== undefined) out[k] = Number(v);
  }
  return out;
}

/** Counters that are levels, not totals: reported as they stand after the storm. */
function gauges(zk: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ["zk_znode_count", "zk_ephemerals_count", "zk_watch_count"]) {
    if (zk[k] !== undefined) out[`${k} (after)`] = zk[k];
  }
  return out;
}
