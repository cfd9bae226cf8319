// Bookkeeping of the load generator: per user, which of the messages sent to
// it arrived (once, in order), and the latency of those in the measured window
// in an HDR histogram.
import { build, type Histogram } from "hdr-histogram-js";

import type { Latency } from "./protocol.ts";

interface UserTally {
  /** Messages sent (the last `n` handed out). */
  sent: number;
  /** Every n <= low has arrived. */
  low: number;
  /** Arrived above `low`. */
  readonly above: Set<number>;
  /** Highest sequence received (for the order check). */
  maxSeq: number;
  /** Sends that failed (their n may never arrive). */
  readonly failed: Set<number>;
}

/** Counters of one step or phase, for messages scheduled at or after `fromUs`. */
export interface PhaseCounters {
  fromUs: number;
  sent: number;
  received: number;
  duplicated: number;
  outOfOrder: number;
  errors: number;
  /** Received of the messages sent to the marked users. */
  receivedMarked: number;
  sentMarked: number;
}

const HISTOGRAM = Object.freeze({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 600_000_000,
  numberOfSignificantValueDigits: 3 as const,
});

export class Tally {
  private readonly users: UserTally[];
  private hist: Histogram = build(HISTOGRAM);
  private windowFrom = Infinity;
  private windowTo = -Infinity;
  /** Receipts whose arrival time fell within the window. */
  arrivedInWindow = 0;
  phase: PhaseCounters = freshPhase(0);
  /** Users whose messages are counted apart (the ones a storm affects). */
  marked = new Set<number>();

  constructor(users: number) {
    this.users = Array.from({ length: users }, () => ({
      sent: 0,
      low: 0,
      above: new Set<number>(),
      maxSeq: 0,
      failed: new Set<number>(),
    }));
  }

  /** Starts counting a phase for messages scheduled at or after `fromUs`. */
  beginPhase(fromUs: number): void {
    this.phase = freshPhase(fromUs);
  }

  /** Latency is recorded for messages scheduled in [fromUs, toUs). */
  setWindow(fromUs: number, toUs: number): void {
    this.hist = build(HISTOGRAM);
    this.windowFrom = fromUs;
    this.windowTo = toUs;
    this.arrivedInWindow = 0;
  }

  /** The next message number for user `u`. */
  next(u: number, scheduledUs: number): number {
    const t = this.users[u]!;
    if (scheduledUs >= this.phase.fromUs) {
      this.phase.sent++;
      if (this.marked.has(u)) this.phase.sentMarked++;
    }
    return ++t.sent;
  }

  /** The user's send of `n` failed. */
  failed(u: number, n: number): void {
    this.users[u]!.failed.add(n);
    this.phase.errors++;
  }

  sentTo(u: number): number {
    return this.users[u]!.sent;
  }

  /** A message arrived for user `u`. Returns false for a duplicate. */
  received(u: number, t: number, n: number, seq: number, arrivedUs: number): boolean {
    const user = this.users[u]!;
    const inPhase = t >= this.phase.fromUs;
    if (n <= user.low || user.above.has(n)) {
      if (inPhase) this.phase.duplicated++;
      return false;
    }
    user.above.add(n);
    while (user.above.delete(user.low + 1)) user.low++;
    if (seq > 0) {
      if (seq < user.maxSeq && inPhase) this.phase.outOfOrder++;
      if (seq > user.maxSeq) user.maxSeq = seq;
    }
    if (inPhase) {
      this.phase.received++;
      if (this.marked.has(u)) this.phase.receivedMarked++;
    }
    if (t >= this.windowFrom && t < this.windowTo) {
      this.hist.recordValue(Math.max(1, arrivedUs - t));
    }
    if (arrivedUs >= this.windowFrom && arrivedUs < this.windowTo) this.arrivedInWindow++;
    return true;
  }

  /** Latency percentiles of the window, in ms. */
  latency(): Latency {
    const h = this.hist;
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      p50: ms(h.getValueAtPercentile(50)),
      p90: ms(h.getValueAtPercentile(90)),
      p99: ms(h.getValueAtPercentile(99)),
      p999: ms(h.getValueAtPercentile(99.9)),
      max: ms(h.maxValue),
      mean: ms(h.mean),
      count: h.totalCount,
    };
  }

  /** Messages of the phase still missing (sent, not failed, not received). */
  missing(): number {
    const p = this.phase;
    return p.sent - p.errors - p.received;
  }
}

function freshPhase(fromUs: number): PhaseCounters {
  return {
    fromUs,
    sent: 0,
    received: 0,
    duplicated: 0,
    outOfOrder: 0,
    errors: 0,
    receivedMarked: 0,
    sentMarked: 0,
  };
}
