// Benchmark 2, end to end: the same 1 KiB messages to the same 1,000
// connected users, but sent as POST /v1/messages to the chat server, which
// stores each in the recipient's inbox before publishing it. First the
// highest rate the whole path keeps up with, then the delivery benchmark's
// fixed rates. Ours only: the peers have no inbox.
import { P99_LIMIT_MS, type Step } from "./delivery.ts";
import type { StepResult } from "./load/protocol.ts";
import {
  CpuMeter,
  profileFlags,
  round,
  urlsFor,
  userName,
  type BenchContext,
} from "./lib/context.ts";
import { countsDelta } from "./lib/dynamo-proxy.ts";
import { LoadGen } from "./lib/loadgen.ts";
import { startTarget, type Target } from "./lib/targets.ts";

export interface E2eData {
  readonly users: number;
  readonly senders: number;
  readonly maxInFlight: number;
  readonly steps: E2eStep[];
  /** Highest offered rate that kept up with p99 <= 20 ms. */
  readonly sustained: number;
  /** Highest offered rate that kept up at all (any latency). */
  readonly keptUp: number;
  /** CPU of: WSS 1, WSS 2, Redis, then the chat server and the inbox store. */
  readonly cpuOrder: string[];
  readonly error?: string;
}

interface Settings {
  readonly users: number;
  readonly startRate: number;
  readonly searchSteps: number;
  readonly fixedRates: number[];
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly drainMs: number;
}

const FULL: Settings = {
  users: 1000,
  startRate: 250,
  searchSteps: 7,
  fixedRates: [5000, 10_000, 20_000],
  warmupMs: 1000,
  durationMs: 4000,
  drainMs: 5000,
};
const QUICK: Settings = {
  users: 200,
  startRate: 250,
  searchSteps: 3,
  fixedRates: [2000],
  warmupMs: 500,
  durationMs: 1500,
  drainMs: 3000,
};
/** Distinct senders, used in turn: the chat server limits each to 20 sends a second. */
const SENDERS = 1000;
const MAX_IN_FLIGHT = 128;
const CPU_ORDER = ["usa-wss-1", "usa-wss-2", "usa-redis", "usa-cs", "dynamo"];

/** A step of this benchmark, with the inbox requests it caused per message received. */
export interface E2eStep extends Step {
  readonly inboxRequestsPerMessage: Record<string, number>;
}

export async function runE2e(ctx: BenchContext): Promise<E2eData> {
  const s = ctx.quick ? QUICK : FULL;
  const steps: E2eStep[] = [];
  let target: Target | undefined;
  let lg: LoadGen | undefined;
  let error: string | undefined;
  try {
    target = await startTarget("ours", {
      servers: 2,
      profileDir: ctx.profileDir,
      countInbox: true,
    });
    lg = await LoadGen.start(profileFlags(ctx, "loadgen-e2e"));
    const t = target;
    const ours = t.ours!;
    const clients = await Promise.all(
      Array.from({ length: s.users }, async (_, i) => ({
        user: userName(i),
        urls: urlsFor(t, i),
        token: await ours.token(userName(i)),
      })),
    );
    const conn = await lg.call("connect", {
      proto: "chat",
      clients,
      concurrency: 100,
      ackEveryMs: 1000,
      reconnect: false,
      timeoutMs: 120_000,
    });
    if (conn.connected !== s.users) {
      throw new Error(
        `only ${conn.connected} of ${s.users} connected: ${conn.firstError}`,
      );
    }
    const tokens = await Promise.all(
      Array.from({ length: SENDERS }, (_, k) => ours.token(`sender${k}:usa`)),
    );
    await lg.call("sender", {
      kind: "http",
      cs: ours.cs,
      tokens,
      maxInFlight: MAX_IN_FLIGHT,
    });
    const procs = t.processes();
    const pidOf = (name: string) => procs.find((p) => p.name === name)?.pid ?? 0;
    const cpu = new CpuMeter(() => CPU_ORDER.map(pidOf));
    const inbox = () => ours.proxy?.snapshot() ?? {};
    const step = async (rate: number, phase: Step["phase"]): Promise<E2eStep> => {
      cpu.start();
      const before = inbox();
      const r = await lg!.call("step", {
        rate,
        warmupMs: s.warmupMs,
        durationMs: s.durationMs,
        drainMs: s.drainMs,
      });
      const requests = countsDelta(inbox(), before);
      const perMessage = Object.fromEntries(
        Object.entries(requests).map(([k, v]) => [
          k,
          round(v / Math.max(1, r.received), 2),
        ]),
      );
      const out = {
        ...r,
        serverCpu: cpu.stop(),
        phase,
        pass: passes(r),
        inboxRequestsPerMessage: perMessage,
      };
      ctx.log(
        `  e2e ${rate}/s: delivered ${r.deliveredPerSec}/s p50 ${r.latencyMs.p50}` +
          ` p99 ${r.latencyMs.p99} ms lost ${r.lost} errors ${r.errors}` +
          ` cpu ${out.serverCpu.join("/")} lg ${r.loadgenCpu}` +
          ` inbox/msg ${perMessage.total ?? 0}` +
          (out.pass ? "" : r.keptUp ? "  (slow)" : "  (did not keep up)"),
      );
      steps.push(out);
      return out;
    };

    // Up by 2x while the path keeps up, then halve the interval.
    let lo = 0;
    let hi = Infinity;
    for (let i = 0; i < s.searchSteps; i++) {
      const rate = Number.isFinite(hi)
        ? roundRate((lo + hi) / 2)
        : lo
          ? lo * 2
          : s.startRate;
      if (Number.isFinite(hi) && ((hi - lo) / hi < 0.1 || rate <= lo || rate >= hi))
        break;
      const r = await step(rate, "search");
      if (r.keptUp) lo = rate;
      else hi = rate;
    }
    for (const rate of s.fixedRates) await step(rate, "fixed");
  } catch (err) {
    error = String(err);
    ctx.log(`  e2e failed: ${error}`);
  } finally {
    await lg?.stop();
    await target?.stop();
  }
  const rates = (f: (x: Step) => boolean) =>
    Math.max(0, ...steps.filter(f).map((x) => x.offered));
  return {
    users: s.users,
    senders: SENDERS,
    maxInFlight: MAX_IN_FLIGHT,
    steps,
    sustained: rates((x) => x.pass),
    keptUp: rates((x) => x.keptUp),
    cpuOrder: CPU_ORDER,
    ...(error ? { error } : {}),
  };
}

function passes(r: StepResult): boolean {
  return r.keptUp && r.latencyMs.p99 <= P99_LIMIT_MS;
}

/** Rounds to two significant digits (225 -> 230; 1,250 -> 1,300). */
function roundRate(r: number): number {
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(r)) - 1);
  return Math.round(r / unit) * unit;
}
