// Benchmark 1, the delivery path: 1 KiB messages published on the users'
// topics in Redis, to 1,000 users connected over two servers, at 5k, 10k and
// 20k msg/s and then as fast as the system keeps up. Ours (two WSSs), the
// bare gateway (two processes) and Socket.IO with the Redis adapter (two
// nodes), all started first and then taking turns at each rate, each driven
// by a load generator of its own (the same program).
import type { StepResult } from "./load/protocol.ts";
import {
  CpuMeter,
  profileFlags,
  ratio,
  urlsFor,
  userName,
  type BenchContext,
} from "./lib/context.ts";
import { LoadGen } from "./lib/loadgen.ts";
import { startTarget, type SystemName, type Target } from "./lib/targets.ts";

/** A step passes when everything arrived, on time, and p99 is at most this. */
export const P99_LIMIT_MS = 20;

export interface Step extends StepResult {
  readonly pass: boolean;
  /** Share of one core used by each server process, then by Redis. */
  readonly serverCpu: number[];
  /** Ours: the other processes (chat server, inbox store, ZooKeeper), by name. */
  readonly otherCpu?: Record<string, number>;
  readonly phase: "fixed" | "search";
}

export interface SystemRun {
  readonly system: SystemName;
  readonly users: number;
  readonly connectMs: number;
  readonly steps: Step[];
  /** Highest offered rate that passed: kept up with p99 <= 20 ms. */
  readonly sustained: number;
  readonly error?: string;
}

export interface DeliveryData {
  readonly users: number;
  readonly servers: number;
  readonly ackEveryMs: number;
  readonly fixedRates: readonly number[];
  readonly runs: SystemRun[];
  readonly ratios: {
    readonly sustainedVsGateway: number | null;
    readonly sustainedVsSocketIo: number | null;
  };
}

interface Settings {
  readonly users: number;
  readonly fixedRates: number[];
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly drainMs: number;
  /** Steps the search for the highest rate may take after the fixed rates. */
  readonly searchSteps: number;
}

const FULL: Settings = {
  users: 1000,
  fixedRates: [5000, 10_000, 20_000],
  warmupMs: 1000,
  durationMs: 3000,
  drainMs: 3000,
  searchSteps: 7,
};
const QUICK: Settings = {
  users: 200,
  fixedRates: [2000, 5000],
  warmupMs: 500,
  durationMs: 1500,
  drainMs: 2000,
  searchSteps: 2,
};
const SERVERS = 2;
const ACK_EVERY_MS = 1000;

export async function runDelivery(ctx: BenchContext): Promise<DeliveryData> {
  const s = ctx.quick ? QUICK : FULL;
  const lanes: Lane[] = [];
  try {
    for (const system of ctx.systems) {
      ctx.log(`delivery: starting ${system}`);
      lanes.push(await openLane(ctx, system, s));
    }
    // Systems take turns at every rate, so that the noise of a shared
    // machine falls on all of them alike.
    for (const rate of s.fixedRates) {
      for (const lane of lanes) await runStep(ctx, s, lane, rate, "fixed");
    }
    // The search starts from the best fixed rate and does not trust the fixed
    // rates' failures as an upper bound: on a shared machine one may be noise.
    for (const lane of lanes) lane.lo = best(lane.steps);
    for (let round = 0; round < s.searchSteps; round++) {
      for (const lane of lanes) {
        const rate = nextRate(lane);
        if (rate === undefined || lane.error) continue;
        let r = await runStep(ctx, s, lane, rate, "search");
        // A step that failed on latency alone is tried once more.
        if (!r.pass && r.lost === 0 && r.keptUp) {
          r = await runStep(ctx, s, lane, rate, "search");
        }
        if (r.pass) lane.lo = rate;
        else lane.hi = rate;
      }
    }
  } finally {
    for (const lane of lanes) {
      await lane.lg?.stop();
      await lane.target?.stop();
    }
  }
  const runs: SystemRun[] = lanes.map((l) => ({
    system: l.system,
    users: s.users,
    connectMs: l.connectMs,
    steps: l.steps,
    sustained: best(l.steps),
    ...(l.error ? { error: l.error } : {}),
  }));
  const sustained = (name: SystemName) => runs.find((r) => r.system === name)?.sustained;
  return {
    users: s.users,
    servers: SERVERS,
    ackEveryMs: ACK_EVERY_MS,
    fixedRates: s.fixedRates,
    runs,
    ratios: {
      sustainedVsGateway: ratio(sustained("ours"), sustained("gateway")),
      sustainedVsSocketIo: ratio(sustained("ours"), sustained("socketio")),
    },
  };
}

/** One system under test with its own load generator, connected and ready to send. */
interface Lane {
  readonly system: SystemName;
  readonly steps: Step[];
  target?: Target;
  lg?: LoadGen;
  cpu?: CpuMeter;
  /** Ours: the chat server, the inbox store and ZooKeeper, which acks keep busy. */
  others?: { readonly names: string[]; readonly cpu: CpuMeter };
  connectMs: number;
  error?: string;
  /** Search state: highest passing rate, lowest failing one. */
  lo: number;
  hi: number;
}

async function openLane(
  ctx: BenchContext,
  system: SystemName,
  s: Settings,
): Promise<Lane> {
  const lane: Lane = { system, steps: [], connectMs: 0, lo: 0, hi: Infinity };
  try {
    lane.target = await startTarget(system, {
      servers: SERVERS,
      profileDir: ctx.profileDir,
    });
    lane.lg = await LoadGen.start(profileFlags(ctx, `loadgen-delivery-${system}`));
    const t = lane.target;
    const clients = await Promise.all(
      Array.from({ length: s.users }, async (_, i) => ({
        user: userName(i),
        urls: urlsFor(t, i),
        token: t.ours ? await t.ours.token(userName(i)) : undefined,
      })),
    );
    const conn = await lane.lg.call("connect", {
      proto: t.proto,
      clients,
      concurrency: 100,
      ackEveryMs: ACK_EVERY_MS,
      reconnect: false,
      timeoutMs: 120_000,
    });
    lane.connectMs = conn.ms;
    if (conn.connected !== s.users) {
      throw new Error(
        `only ${conn.connected} of ${s.users} connected: ${conn.firstError}`,
      );
    }
    await lane.lg.call("sender", {
      kind: "redis",
      url: t.redis.url,
      password: t.redis.password,
      via: system === "socketio" ? "socketio" : "plain",
    });
    lane.cpu = new CpuMeter(() => [
      ...t.urls.map((_, i) => t.serverPid(i)),
      t.redisPid(),
    ]);
    if (t.ours) {
      const others = t.processes().filter((p) => /-(cs|zk)$|^dynamo$/.test(p.name));
      const pids = others.map((p) => p.pid);
      lane.others = { names: others.map((p) => p.name), cpu: new CpuMeter(() => pids) };
    }
  } catch (err) {
    lane.error = String(err);
    ctx.log(`  ${system} failed: ${lane.error}`);
  }
  return lane;
}

async function runStep(
  ctx: BenchContext,
  s: Settings,
  lane: Lane,
  rate: number,
  phase: Step["phase"],
): Promise<Step> {
  const failed: Step = {
    ...EMPTY_STEP,
    offered: rate,
    serverCpu: [],
    phase,
    pass: false,
  };
  if (lane.error || !lane.lg || !lane.cpu) return failed;
  try {
    lane.cpu.start();
    lane.others?.cpu.start();
    const r = await lane.lg.call("step", {
      rate,
      warmupMs: s.warmupMs,
      durationMs: s.durationMs,
      drainMs: s.drainMs,
    });
    const serverCpu = lane.cpu.stop();
    const o = lane.others;
    const otherCpu =
      o && Object.fromEntries(o.cpu.stop().map((c, i) => [o.names[i]!, c]));
    const out = {
      ...r,
      serverCpu,
      ...(otherCpu ? { otherCpu } : {}),
      phase,
      pass: passes(r),
    };
    ctx.log(
      `  ${lane.system} ${rate}/s: delivered ${r.deliveredPerSec}/s p50 ${r.latencyMs.p50}` +
        ` p99 ${r.latencyMs.p99} p99.9 ${r.latencyMs.p999} ms lost ${r.lost}` +
        ` lag ${r.maxLagMs} ms cpu ${out.serverCpu.join("/")} lg ${r.loadgenCpu}` +
        ` loop ${r.loadgenLoopDelayP99Ms} psi ${r.cpuPressure}` +
        (otherCpu ? ` others ${JSON.stringify(otherCpu)}` : "") +
        (out.pass ? "" : "  (fail)"),
    );
    lane.steps.push(out);
    // Ours resumes from the inbox after a gap; this path stores nothing, so
    // after a loss every client starts again after what was sent to it.
    if (lane.system === "ours" && r.lost > 0) await lane.lg.call("resync", {});
    return out;
  } catch (err) {
    lane.error = String(err);
    ctx.log(`  ${lane.system} failed: ${lane.error}`);
    return failed;
  }
}

/**
 * The next rate of the search for the highest passing one: up by 1.25x from
 * the best so far until a step fails, then the middle of the interval, until
 * it is narrower than 8%.
 */
function nextRate(lane: Lane): number | undefined {
  if (!Number.isFinite(lane.hi)) return roundRate(Math.max(lane.lo, 1000) * 1.25);
  const mid = roundRate((lane.lo + lane.hi) / 2);
  if ((lane.hi - lane.lo) / lane.hi < 0.08 || mid <= lane.lo || mid >= lane.hi) {
    return undefined;
  }
  return mid;
}

const EMPTY_STEP: StepResult = {
  offered: 0,
  sentPerSec: 0,
  sends: 0,
  deliveredPerSec: 0,
  sent: 0,
  received: 0,
  lost: 0,
  duplicated: 0,
  outOfOrder: 0,
  errors: 0,
  maxLagMs: 0,
  latencyMs: { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0, count: 0 },
  keptUp: false,
  loadgenCpu: 0,
  loadgenLoopDelayP99Ms: 0,
};

function passes(r: StepResult): boolean {
  return r.keptUp && r.latencyMs.p99 <= P99_LIMIT_MS;
}

function best(steps: readonly Step[]): number {
  return Math.max(0, ...steps.filter((x) => x.pass).map((x) => x.offered));
}

/** Rounds to two significant digits (1,250 -> 1,300; 31,250 -> 31,000). */
function roundRate(r: number): number {
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(r)) - 1);
  return Math.round(r / unit) * unit;
}
