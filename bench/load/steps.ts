// Open-loop pacing and one measured step at a fixed offered rate. Every
// message has a scheduled send time; latency is measured from it (not from
// when the sender got round to it), so a sender that falls behind shows up in
// the latency instead of hiding it.
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

import type { LeanClient } from "./clients.ts";
import { messageBody, nowUs, type StepArgs, type StepResult } from "./protocol.ts";
import type { Sender } from "./senders.ts";
import type { Tally } from "./tally.ts";

/** What a running load generator holds. */
export interface LoadContext {
  readonly clients: LeanClient[];
  readonly tally: Tally;
  readonly sender: Sender;
  /** Sends still unanswered past which the pacer waits. */
  readonly maxInFlight: number;
}

/**
 * Sends message `n` of client `u`, scheduled at `scheduledUs`. A group
 * sender's message is one copy for every client: each client's count moves
 * on (in step, since only group messages reach them), so loss, duplicates,
 * order and latency are counted per copy.
 */
export function sendOne(ctx: LoadContext, u: number, scheduledUs: number): void {
  const { tally, clients, sender } = ctx;
  if (sender.toAll) {
    let n = 0;
    for (let i = 0; i < clients.length; i++) n = Math.max(n, tally.next(i, scheduledUs));
    sender.send("", n, scheduledUs, messageBody(scheduledUs, n), () => {
      for (let i = 0; i < clients.length; i++) tally.failed(i, n);
    });
    return;
  }

  const n = tally.next(u, scheduledUs);
  sender.send(clients[u]!.user, n, scheduledUs, messageBody(scheduledUs, n), () =>
    tally.failed(u, n),
  );
}

export interface PacerResult {
  readonly sent: number;
  readonly maxLagMs: number;
  /** Sends scheduled within [fromUs, toUs) of `countWindow`. */
  readonly sentInWindow: number;
}

/**
 * Sends at `rate` per second from `startUs`, round-robin over the clients,
 * until `total` messages are sent, `stop()` is called or the clock passes
 * `deadlineUs`.
 */
export class Pacer {
  private timer: NodeJS.Timeout | undefined;
  private i = 0;
  private lagUs = 0;
  private inWindow = 0;
  private done: ((r: PacerResult) => void) | undefined;

  constructor(
    private readonly ctx: LoadContext,
    private readonly rate: number,
    private readonly startUs: number,
    private readonly total = Infinity,
    private readonly deadlineUs = Infinity,
    private readonly countWindow: readonly [number, number] = [0, 0],
  ) {}

  /** Messages already due by `now` that are not sent yet: how far behind the sender is. */
  behind(now = nowUs()): number {
    if (now < this.startUs) return 0;
    const due = Math.min(
      this.total,
      Math.floor(((now - this.startUs) * this.rate) / 1e6) + 1,
    );
    return Math.max(0, due - this.i);
  }

  run(): Promise<PacerResult> {
    return new Promise((resolve) => {
      this.done = resolve;
      this.timer = setInterval(() => this.tick(), 1);
    });
  }

  stop(): void {
    clearInterval(this.timer);
    const done = this.done;
    this.done = undefined;
    done?.({ sent: this.i, maxLagMs: this.lagUs / 1000, sentInWindow: this.inWindow });
  }

  private tick(): void {
    const now = nowUs();
    if (now < this.startUs) return;
    const users = this.ctx.clients.length;
    // Message i is scheduled at startUs + i / rate: the first is due at once
    // (without the + 1 each would leave one interval late, 10 s at 0.1/s).
    const due = Math.min(
      this.total,
      Math.floor(((now - this.startUs) * this.rate) / 1e6) + 1,
    );
    if (this.i < due) {
      // How late this tick came for the oldest message it sends.
      const first = this.startUs + Math.round((this.i * 1e6) / this.rate);
      this.lagUs = Math.max(this.lagUs, now - first);
    }
    while (this.i < due && this.ctx.sender.inFlight < this.ctx.maxInFlight) {
      const scheduled = this.startUs + Math.round((this.i * 1e6) / this.rate);
      sendOne(this.ctx, this.i % users, scheduled);
      if (scheduled >= this.countWindow[0] && scheduled < this.countWindow[1]) {
        this.inWindow++;
      }
      this.i++;
    }
    if (this.i >= this.total || now > this.deadlineUs) this.stop();
  }
}

/**
 * The kernel's CPU pressure (share of the last 10 s in which some runnable
 * task waited for a core): how much other work competed with the benchmark.
 */
function cpuPressure(): number | undefined {
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync("/proc/pressure/cpu", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one step: warm-up, measured window, then waits for stragglers. */
export async function runStep(ctx: LoadContext, a: StepArgs): Promise<StepResult> {
  const { tally, sender } = ctx;
  const startUs = nowUs() + 20_000;
  const fromUs = startUs + a.warmupMs * 1000;
  const toUs = fromUs + a.durationMs * 1000;
  tally.beginPhase(startUs);
  tally.setWindow(fromUs, toUs);
  const total = Math.round((a.rate * (a.warmupMs + a.durationMs)) / 1000);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();

  // A sender that cannot keep the pace stops one second past the window.
  const pacer = new Pacer(ctx, a.rate, startUs, total, toUs + 1_000_000, [fromUs, toUs]);
  const paced = await pacer.run();
  const cpu = process.cpuUsage(cpu0);
  const loadgenCpu = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);
  loop.disable();

  const drainUntil = Date.now() + a.drainMs;
  while ((tally.missing() > 0 || sender.inFlight > 0) && Date.now() < drainUntil) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const p = tally.phase;
  const seconds = a.durationMs / 1000;
  const lost = Math.max(0, tally.missing());
  return {
    offered: a.rate,
    sentPerSec: Math.round(paced.sentInWindow / seconds),
    sends: paced.sent,
    deliveredPerSec: Math.round(tally.arrivedInWindow / seconds),
    sent: p.sent,
    received: p.received,
    lost,
    duplicated: p.duplicated,
    outOfOrder: p.outOfOrder,
    errors: p.errors,
    maxLagMs: Math.round(paced.maxLagMs * 10) / 10,
    latencyMs: tally.latency(),
    keptUp: paced.sent === total && lost === 0 && p.errors === 0 && p.duplicated === 0,
    loadgenCpu: Math.round(loadgenCpu * 100) / 100,
    loadgenLoopDelayP99Ms: Math.round(loop.percentile(99) / 1e4) / 100,
    cpuPressure: cpuPressure(),
  };
}
