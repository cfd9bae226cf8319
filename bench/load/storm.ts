// The load generator's side of the reconnect storm: background traffic to
// every user, and for each client of the killed server the time until it is
// connected again and the time until it receives again. A client that comes
// back gets one probe message at once, so "receives again" measures the
// system, not how long until its next background message.
import type { LeanClient } from "./clients.ts";
import {
  nowUs,
  type StormAfterKillArgs,
  type StormEnd,
  type StormRecovery,
} from "./protocol.ts";
import { Pacer, sendOne, type LoadContext } from "./steps.ts";

export class StormRun {
  private readonly affected = new Set<number>();
  private readonly attemptsAtKill = new Map<number, number>();
  private readonly readyAt = new Map<number, number>();
  /** Per reconnected client: how long its successful attempt took, ms. */
  private readonly setupMs: number[] = [];
  private readonly receivedAt = new Map<number, number>();
  private killedAtUs = 0;
  /** Set at the snapshot: from then on, an affected client's ready is a reconnect. */
  private armed = false;
  private pacer: Pacer | undefined;
  private paced: Promise<unknown> | undefined;

  constructor(private readonly ctx: LoadContext) {}

  /** Marks the clients now connected to `url`: the ones its kill will affect. */
  snapshot(url: string): number {
    this.affected.clear();
    for (const c of this.ctx.clients) {
      if (c.ready && c.url === url) {
        this.affected.add(c.index);
        this.attemptsAtKill.set(c.index, c.attempts);
      }
    }
    this.ctx.tally.marked = new Set(this.affected);
    this.armed = true;
    return this.affected.size;
  }

  /** Starts background traffic, round-robin over every user. */
  begin(rate: number): void {
    const start = nowUs() + 10_000;
    this.ctx.tally.beginPhase(start);
    this.pacer = new Pacer(this.ctx, rate, start);
    this.paced = this.pacer.run();
  }

  /** Waits until every affected client receives again, or the timeout. */
  async afterKill(a: StormAfterKillArgs): Promise<StormRecovery> {
    this.killedAtUs = a.killedAtUs;
    const backlog = (this.pacer?.behind(a.killedAtUs) ?? 0) + this.ctx.sender.inFlight;
    const deadline = Date.now() + a.timeoutMs;
    while (this.receivedAt.size < this.affected.size && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const since = (m: Map<number, number>) =>
      [...m.values()].map((us) => (us - this.killedAtUs) / 1000).sort((x, y) => x - y);
    let attempts = 0;
    for (const i of this.affected) {
      attempts += this.ctx.clients[i]!.attempts - (this.attemptsAtKill.get(i) ?? 0);
    }
    return {
      affected: this.affected.size,
      backgroundBacklogAtKill: backlog,
      notRecovered: this.affected.size - this.receivedAt.size,
      reconnectMs: summary(since(this.readyAt)),
      receiveMs: summary(since(this.receivedAt)),
      setupMs: summary([...this.setupMs].sort((x, y) => x - y)),
      attempts,
    };
  }

  /** Stops background traffic, waits for stragglers, counts what arrived. */
  async end(drainMs: number): Promise<StormEnd> {
    this.pacer?.stop();
    await this.paced;
    const { tally, sender } = this.ctx;
    const until = Date.now() + drainMs;
    while ((tally.missing() > 0 || sender.inFlight > 0) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const p = tally.phase;
    return {
      sent: p.sent,
      received: p.received,
      lost: Math.max(0, tally.missing()),
      lostAffected: Math.max(0, p.sentMarked - p.receivedMarked),
      duplicated: p.duplicated,
      outOfOrder: p.outOfOrder,
      errors: p.errors,
    };
  }

  // Hooks from the clients.
  ready(c: LeanClient): void {
    if (!this.armed || !this.affected.has(c.index)) return;
    if (this.readyAt.has(c.index)) return;
    const now = nowUs();
    this.readyAt.set(c.index, now);
    this.setupMs.push((now - c.attemptAtUs) / 1000);
    sendOne(this.ctx, c.index, nowUs());
  }

  message(c: LeanClient): void {
    if (!this.readyAt.has(c.index) || this.receivedAt.has(c.index)) return;
    this.receivedAt.set(c.index, nowUs());
  }
}

function summary(sorted: number[]) {
  const at = (q: number) =>
    sorted.length === 0
      ? NaN
      : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}
