// Benchmark 6, group fan-out: what a group message costs in each fan-out
// mode. Two local systems of region `usa` (2 WSS each) run side by side, one
// per-user (the chat server publishes every member's copy on the member's
// topic) and one per-group (one frame per region on the group's channel; each
// WSS builds its members' frames). For each group size, every member is
// connected through the load generator and members send group messages
// (POST /v1/messages {group}) at a fixed rate of copies per second, so the
// inbox store does the same work at every size. The modes take turns at each
// size, so the machine's noise falls on both alike.
import { cpSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

import { Redis } from "ioredis";

import type { Fanout } from "../regions/schema.ts";
import type { StepResult } from "./load/protocol.ts";
import { profileFlags, round, urlsFor, type BenchContext } from "./lib/context.ts";
import { LoadGen } from "./lib/loadgen.ts";
import { cpuSeconds, sleep } from "./lib/procs.ts";
import { startTarget, type Target } from "./lib/targets.ts";

export const MODES: readonly Fanout[] = ["per-user", "per-group"];

export interface GroupsData {
  readonly servers: number;
  readonly sizes: number[];
  /** Copies offered per second at every size (group messages/s x members). */
  readonly copiesPerSec: number;
  readonly ackEveryMs: number;
  /** Senders (members, in turn) of each group: the API limits each user's sends. */
  readonly maxSenders: number;
  readonly runs: GroupRun[];
  /** Where the app logs of a run with a problem were kept (outside the work tree). */
  readonly keptLogs?: string;
}

export interface GroupRun {
  readonly mode: Fanout;
  readonly steps: GroupStep[];
  /** Warnings and errors the apps logged during the run (first few of each log). */
  readonly logProblems: string[];
  error?: string;
}

export interface GroupStep {
  readonly size: number;
  /** Group messages offered per second. */
  readonly rate: number;
  /** Group messages sent (warm-up included). */
  readonly messages: number;
  /** Copies delivered (warm-up included). */
  readonly copies: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  /** Copies whose send failed (a refused group send counts once per member). */
  readonly errors: number;
  /** Per copy, scheduled send time to receipt (measured window). */
  readonly latencyMs: StepResult["latencyMs"];
  /** Chat server CPU per group message, ms (its idle CPU subtracted). */
  readonly csCpuMsPerMessage: number;
  /** Both WSSs' CPU per delivered copy, ms (their idle CPU subtracted). */
  readonly wssCpuMsPerCopy: number;
  /** Redis PUBLISH calls per group message. */
  readonly publishesPerMessage: number;
  /** Every Redis command per group message (INFO commandstats deltas). */
  readonly redisCallsPerMessage: Record<string, number>;
  /** Net CPU of every process of the system over the step, ms per group message. */
  readonly cpuMsPerMessage: Record<string, number>;
  /** CPU of every process while idle with the clients connected, share of a core. */
  readonly idleCpu: Record<string, number>;
  readonly stepSeconds: number;
  readonly loadAvg1: number;
  readonly step: StepResult;
}

interface Settings {
  readonly sizes: number[];
  readonly copiesPerSec: number;
  /** Each step lasts at least this long and sends at least `minMessages`. */
  readonly minDurationMs: number;
  readonly minMessages: number;
  /** Wait after connecting (the WSSs re-read each inbox about a second after a connect). */
  readonly settleMs: number;
  /** Window in which the processes' idle CPU is measured. */
  readonly idleMs: number;
  readonly drainMs: number;
}

const FULL: Settings = {
  sizes: [10, 100, 1000],
  copiesPerSec: 100,
  minDurationMs: 10_000,
  minMessages: 6,
  settleMs: 3000,
  idleMs: 3000,
  drainMs: 20_000,
};
const QUICK: Settings = {
  sizes: [10, 100],
  copiesPerSec: 100,
  minDurationMs: 3000,
  minMessages: 3,
  settleMs: 2000,
  idleMs: 1000,
  drainMs: 10_000,
};
const SERVERS = 2;
const ACK_EVERY_MS = 1000;
const MAX_SENDERS = 10;
const MAX_IN_FLIGHT = 32;
const LOG_DIR = join(tmpdir(), "chat-bench-logs");

interface System {
  readonly mode: Fanout;
  readonly target: Target;
  readonly lg: LoadGen;
  readonly redis: Redis;
  readonly run: GroupRun;
}

export async function runGroups(ctx: BenchContext): Promise<GroupsData> {
  const s = ctx.quick ? QUICK : FULL;
  const systems: System[] = [];
  const runs: GroupRun[] = [];
  /** Undoes what was started, newest last. */
  const stops: (() => Promise<void>)[] = [];
  let keptLogs: string | undefined;
  try {
    for (const mode of MODES) {
      const target = await startTarget("ours", {
        servers: SERVERS,
        profileDir: ctx.profileDir,
        fanout: mode,
      });
      const run: GroupRun = { mode, steps: [], logProblems: [] };
      runs.push(run);
      stops.push(async () => {
        run.logProblems.push(...logProblems(target));
        const bad =
          run.error !== undefined ||
          run.steps.some((x) => x.lost + x.duplicated + x.outOfOrder + x.errors > 0);
        if (bad) keptLogs = keepLogs(target, mode);
        await target.stop();
      });
      const redis = new Redis(target.redis.url, { password: target.redis.password });
      redis.on("error", () => undefined);
      stops.push(async () => redis.disconnect());
      const lg = await LoadGen.start(profileFlags(ctx, `loadgen-groups-${mode}`));
      stops.push(() => lg.stop());
      systems.push({ mode, target, lg, redis, run });
    }
    for (const [k, size] of s.sizes.entries()) {
      // Alternate which mode goes first, so a drift in the machine's load
      // does not always favour the same one.
      const order = k % 2 === 0 ? systems : [...systems].reverse();
      for (const sys of order) {
        if (sys.run.error) continue;
        try {
          sys.run.steps.push(await groupStep(ctx, s, sys, size));
        } catch (err) {
          sys.run.error = String(err);
          ctx.log(`  groups ${sys.mode} ${size}: failed: ${sys.run.error}`);
        }
      }
    }
  } catch (err) {
    for (const mode of MODES) {
      const run = runs.find((r) => r.mode === mode);
      if (run) run.error ??= String(err);
      else runs.push({ mode, steps: [], logProblems: [], error: String(err) });
    }
    ctx.log(`  groups failed: ${String(err)}`);
  } finally {
    for (const stop of stops.reverse()) {
      await stop().catch((err: unknown) => ctx.log(`  groups cleanup: ${String(err)}`));
    }
  }
  return {
    servers: SERVERS,
    sizes: s.sizes,
    copiesPerSec: s.copiesPerSec,
    ackEveryMs: ACK_EVERY_MS,
    maxSenders: MAX_SENDERS,
    runs,
    ...(keptLogs ? { keptLogs } : {}),
  };
}

/** One group of `size` connected members, sent to at the settings' rate. */
async function groupStep(
  ctx: BenchContext,
  s: Settings,
  sys: System,
  size: number,
): Promise<GroupStep> {
  const { target, lg, redis, mode } = sys;
  const ours = target.ours!;
  const group = `bench${size}:usa`;
  const users = Array.from({ length: size }, (_, i) => `g${size}m${i}:usa`);
  const tokens = await Promise.all(users.map((u) => ours.token(u)));
  await createGroup(ours.cs, tokens[0]!, group, users.slice(1));

  // Member i's home WSS is i mod 2: the members are spread over both.
  const conn = await lg.call("connect", {
    proto: "chat",
    clients: users.map((user, i) => ({
      user,
      urls: urlsFor(target, i),
      token: tokens[i]!,
    })),
    concurrency: 50,
    ackEveryMs: ACK_EVERY_MS,
    reconnect: false,
    timeoutMs: 120_000,
  });
  if (conn.connected !== size) {
    throw new Error(`only ${conn.connected} of ${size} connected: ${conn.firstError}`);
  }
  await lg.call("sender", {
    kind: "http",
    cs: ours.cs,
    tokens: tokens.slice(0, MAX_SENDERS),
    maxInFlight: MAX_IN_FLIGHT,
    group,
  });

  const procs = target.processes();
  const cpu = () => Object.fromEntries(procs.map((p) => [p.name, cpuSeconds(p.pid)]));
  await sleep(s.settleMs);
  const idle0 = cpu();
  const tIdle = performance.now();
  await sleep(s.idleMs);
  const idleSeconds = (performance.now() - tIdle) / 1000;
  const idle = delta(cpu(), idle0, (x) => x / idleSeconds);

  const rate = s.copiesPerSec / size;
  const durationMs = Math.max(s.minDurationMs, (s.minMessages / rate) * 1000);
  const warmupMs = Math.max(1000, 1000 / rate);
  const loadAvg1 = round(loadavg()[0]!);
  const calls0 = await commandCalls(redis);
  const cpu0 = cpu();
  const t0 = performance.now();
  const r = await lg.call(
    "step",
    { rate, warmupMs, durationMs, drainMs: s.drainMs },
    durationMs + warmupMs + s.drainMs + 60_000,
  );
  const stepSeconds = (performance.now() - t0) / 1000;
  const used = delta(cpu(), cpu0, (x, name) => x - (idle[name] ?? 0) * stepSeconds);
  const calls = delta(await commandCalls(redis), calls0, (x) => x);
  await lg.call("closeAll", {});

  const messages = Math.max(1, r.sends);
  const perMessage = (x: number) => round(x / messages, 3);
  const cpuMs = (name: string) => Math.max(0, used[name] ?? 0) * 1000;
  const wssMs = procs
    .filter((p) => p.name.startsWith("usa-wss-"))
    .reduce((a, p) => a + cpuMs(p.name), 0);
  const out: GroupStep = {
    size,
    rate: round(rate, 3),
    messages: r.sends,
    copies: r.received,
    lost: r.lost,
    duplicated: r.duplicated,
    outOfOrder: r.outOfOrder,
    errors: r.errors,
    latencyMs: r.latencyMs,
    csCpuMsPerMessage: perMessage(cpuMs("usa-cs")),
    wssCpuMsPerCopy: round(wssMs / Math.max(1, r.received), 4),
    publishesPerMessage: perMessage(calls.publish ?? 0),
    redisCallsPerMessage: Object.fromEntries(
      Object.entries(calls)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => [k, perMessage(v)]),
    ),
    cpuMsPerMessage: Object.fromEntries(
      procs.map((p) => [p.name, perMessage(cpuMs(p.name))]),
    ),
    idleCpu: Object.fromEntries(Object.entries(idle).map(([k, v]) => [k, round(v, 3)])),
    stepSeconds: round(stepSeconds, 1),
    loadAvg1,
    step: r,
  };
  ctx.log(
    `  groups ${mode} ${size}: ${r.sends} msgs at ${out.rate}/s, ${r.received} copies, ` +
      `p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} ms, lost ${r.lost} dup ` +
      `${r.duplicated} ooo ${r.outOfOrder} errors ${r.errors}; cs ` +
      `${out.csCpuMsPerMessage} ms/msg, wss ${out.wssCpuMsPerCopy} ms/copy, ` +
      `publish ${out.publishesPerMessage}/msg; load ${loadAvg1}, pressure ` +
      `${r.cpuPressure ?? "-"}%`,
  );
  return out;
}

async function createGroup(
  cs: string,
  ownerToken: string,
  id: string,
  members: string[],
): Promise<void> {
  const res = await fetch(new URL("/v1/groups", cs), {
    method: "POST",
    headers: {
      authorization: `Bearer ${ownerToken}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ id, members }),
  });
  if (res.status !== 201) {
    throw new Error(`creating ${id}: ${res.status} ${await res.text()}`);
  }
}

/** Calls of every Redis command so far (INFO commandstats). */
async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info("commandstats");
  const out: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),/gm)) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function delta(
  now: Record<string, number>,
  before: Record<string, number>,
  f: (x: number, name: string) => number,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(now).map(([k, v]) => [k, f(v - (before[k] ?? 0), k)]),
  );
}

/** The apps' warnings and errors (pino level >= 40), first few of each log. */
function logProblems(target: Target): string[] {
  const dir = target.ours?.system.status.dir;
  if (!dir) return [];
  const out: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".log"))) {
    const lines = readFileSync(join(dir, f), "utf8").split("\n");
    const bad = lines.filter((l) => /"level":[4-6]0/.test(l)).slice(0, 5);
    out.push(...bad.map((l) => `${f}: ${summary(l)}`));
  }
  return out;
}

/** A pino line as level, time, message and the error's message. */
function summary(line: string): string {
  try {
    const o = JSON.parse(line) as {
      level: number;
      time: number;
      msg?: string;
      err?: { message?: string };
    };
    const when = new Date(o.time).toISOString();
    return `${o.level} ${when} ${o.msg ?? ""}: ${o.err?.message ?? ""}`;
  } catch {
    return line.slice(0, 300);
  }
}

/** Copies the run folder's logs outside the work tree before it is removed. */
function keepLogs(target: Target, mode: Fanout): string | undefined {
  const dir = target.ours?.system.status.dir;
  if (!dir) return undefined;
  const to = join(LOG_DIR, `groups-${new Date().toISOString().replace(/:/g, "-")}`, mode);
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".log"))) {
    cpSync(join(dir, f), join(to, f));
  }
  return join(to, "..");
}
