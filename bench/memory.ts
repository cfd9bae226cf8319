// Benchmark 3, idle memory: 10,000 idle connections (one user each) on one
// server process; the server's RSS grows by how much per connection. Ours
// (one WSS), the bare gateway and Socket.IO, one after the other.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

import {
  CpuMeter,
  profileFlags,
  ratio,
  round,
  userName,
  type BenchContext,
} from "./lib/context.ts";
import { LoadGen } from "./lib/loadgen.ts";
import { rssKiB, sleep } from "./lib/procs.ts";
import { startTarget, type SystemName, type Target } from "./lib/targets.ts";

export interface MemoryRun {
  readonly system: SystemName;
  readonly connections: number;
  readonly rssBeforeKiB: number;
  readonly rssAfterKiB: number;
  /** (after - before) / connections. */
  readonly perConnectionKiB: number;
  readonly connectMs: number;
  readonly connectsPerSec: number;
  /** CPU time the server spent accepting them, ms per connection. */
  readonly cpuMsPerConnection: number;
  /** CPU time of every process of the system while connecting, ms per connection. */
  readonly systemCpuMsPerConnection: Record<string, number>;
  readonly error?: string;
}

export interface MemoryData {
  readonly connections: number;
  readonly runs: MemoryRun[];
  readonly ratios: {
    readonly vsGateway: number | null;
    readonly vsSocketIo: number | null;
  };
}

const FULL = { connections: 10_000, settleMs: 6000 };
const QUICK = { connections: 1000, settleMs: 3000 };

export async function runMemory(ctx: BenchContext): Promise<MemoryData> {
  const s = ctx.quick ? QUICK : FULL;
  const runs: MemoryRun[] = [];
  for (const system of ctx.systems) {
    ctx.log(`memory: ${system}`);
    runs.push(await runSystem(ctx, system, s.connections, s.settleMs));
    const r = runs.at(-1)!;
    ctx.log(
      `  ${system}: ${r.perConnectionKiB} KiB per connection ` +
        `(${r.rssBeforeKiB} -> ${r.rssAfterKiB} KiB), ${r.connectsPerSec} connects/s`,
    );
  }
  const per = (n: SystemName) => runs.find((r) => r.system === n)?.perConnectionKiB;
  return {
    connections: s.connections,
    runs,
    ratios: {
      vsGateway: ratio(per("ours"), per("gateway")),
      vsSocketIo: ratio(per("ours"), per("socketio")),
    },
  };
}

async function runSystem(
  ctx: BenchContext,
  system: SystemName,
  connections: number,
  settleMs: number,
): Promise<MemoryRun> {
  let target: Target | undefined;
  let lg: LoadGen | undefined;
  const empty = {
    system,
    connections: 0,
    rssBeforeKiB: 0,
    rssAfterKiB: 0,
    perConnectionKiB: NaN,
    connectMs: 0,
    connectsPerSec: 0,
    cpuMsPerConnection: NaN,
    systemCpuMsPerConnection: {},
  };
  try {
    target = await startTarget(system, { servers: 1, profileDir: ctx.profileDir });
    lg = await LoadGen.start(profileFlags(ctx, `loadgen-memory-${system}`));
    const t = target;
    const pid = t.serverPid(0);
    const clients = await Promise.all(
      Array.from({ length: connections }, async (_, i) => ({
        user: userName(i),
        urls: t.urls,
        token: t.ours ? await t.ours.token(userName(i)) : undefined,
      })),
    );
    await sleep(2000);
    const before = await steadyRss(pid, Math.min);
    if (ctx.profileDir) await heapSnapshot(ctx, pid);
    const procs = t.processes();
    const cpu = new CpuMeter(() => procs.map((p) => p.pid));
    cpu.start();
    const conn = await lg.call("connect", {
      proto: t.proto,
      clients,
      concurrency: 200,
      ackEveryMs: 0,
      reconnect: false,
      timeoutMs: 240_000,
    });
    const perConn = (share: number) => round((share * conn.ms) / conn.connected, 3);
    const shares = cpu.stop();
    const systemCpu = Object.fromEntries(
      procs.map((p, i) => [p.name, perConn(shares[i]!)]),
    );
    if (conn.connected < connections) {
      throw new Error(
        `only ${conn.connected} of ${connections} connected: ${conn.firstError}`,
      );
    }
    await sleep(settleMs);
    const after = await steadyRss(pid, (...xs) => xs.sort((a, b) => a - b)[1]!);
    // Profiling: heap snapshots (each collects garbage first) before and
    // after connecting tell live heap per connection from the rest of RSS.
    if (ctx.profileDir) await heapSnapshot(ctx, pid);
    return {
      system,
      connections: conn.connected,
      rssBeforeKiB: before,
      rssAfterKiB: after,
      perConnectionKiB: round((after - before) / conn.connected),
      connectMs: conn.ms,
      connectsPerSec: Math.round(conn.connected / (conn.ms / 1000)),
      cpuMsPerConnection: perConn(shares[procs.findIndex((p) => p.pid === pid)]!),
      systemCpuMsPerConnection: systemCpu,
    };
  } catch (err) {
    ctx.log(`  ${system} failed: ${String(err)}`);
    return { ...empty, error: String(err) };
  } finally {
    await lg?.call("closeAll", {}).catch(() => null);
    await lg?.stop();
    await target?.stop();
  }
}

/**
 * Profiling: the server was started with --heapsnapshot-signal; ask for a
 * snapshot and wait until the file stops growing.
 */
async function heapSnapshot(ctx: BenchContext, pid: number): Promise<void> {
  const dir = ctx.profileDir!;
  const before = new Set(listSnapshots(dir));
  process.kill(pid, "SIGUSR2");
  let last = -1;
  for (let i = 0; i < 240 && rssKiB(pid) > 0; i++) {
    await sleep(1000);
    const file = listSnapshots(dir).find((f) => !before.has(f));
    const size = file ? statSync(file).size : -1;
    if (file && size > 0 && size === last) {
      ctx.log(`  heap snapshot: ${file}`);
      return;
    }
    last = size;
  }
}

function listSnapshots(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".heapsnapshot"))
    .map((f) => join(dir, f));
}

/** Three RSS samples 500 ms apart, combined by `pick` (min before, median after). */
async function steadyRss(
  pid: number,
  pick: (...xs: number[]) => number,
): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    xs.push(rssKiB(pid));
    await sleep(500);
  }
  return pick(...xs);
}
