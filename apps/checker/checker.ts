// The delivery checker: given what senders had acknowledged and what each
// recipient's socket received, counts per recipient the messages lost,
// duplicated and out of order. Used by the fault tests, drills and benchmarks.
import type { MsgFrame } from "../client/client.ts";

export interface RecipientReport {
  readonly expected: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
}

export interface CheckReport {
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  /** Frames for messages no sender saw acknowledged (a send that timed out yet was stored). */
  readonly unexpected: number;
  readonly recipients: Record<string, RecipientReport>;
}

interface Recipient {
  readonly expected: Map<string, number>;
  readonly seen: Set<string>;
  lastSeq: number;
  received: number;
  duplicated: number;
  outOfOrder: number;
  unexpected: number;
  /** Per sender, the send index of the last message received (send order check). */
  readonly lastIndexFrom: Map<string, number>;
}

export class DeliveryChecker {
  private readonly recipients = new Map<string, Recipient>();
  private readonly waiters = new Set<() => void>();
  private sendIndex = 0;

  /**
   * Declares a recipient whose socket starts after `after` (0 for a fresh inbox).
   * Recipients not declared start at 0.
   */
  watch(recipient: string, after = 0): void {
    this.recipient(recipient).lastSeq = after;
  }

  /** A send the sender saw acknowledged, in the order the sender issued it. */
  sent(recipient: string, id: string): void {
    this.recipient(recipient).expected.set(id, this.sendIndex++);
  }

  /** A frame a recipient's socket delivered. */
  received(recipient: string, msg: MsgFrame): void {
    const r = this.recipient(recipient);
    r.received++;
    if (r.seen.has(msg.id) || msg.seq <= r.lastSeq) {
      r.duplicated++;
      return;
    }
    if (msg.seq !== r.lastSeq + 1) r.outOfOrder++;
    r.lastSeq = msg.seq;
    r.seen.add(msg.id);

    const index = r.expected.get(msg.id);
    if (index === undefined) {
      r.unexpected++;
    } else {
      const prev = r.lastIndexFrom.get(msg.from);
      if (prev !== undefined && index < prev) r.outOfOrder++;
      r.lastIndexFrom.set(msg.from, index);
    }
    for (const w of this.waiters) w();
  }

  /** True when every acknowledged send has been received. */
  get complete(): boolean {
    for (const r of this.recipients.values()) {
      for (const id of r.expected.keys()) if (!r.seen.has(id)) return false;
    }
    return true;
  }

  /** Resolves once complete, or after `timeoutMs` (then the report shows what is lost). */
  async settle(timeoutMs: number): Promise<CheckReport> {
    if (!this.complete) {
      await new Promise<void>((resolve) => {
        const done = () => {
          if (!this.complete) return;
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(() => {
          this.waiters.delete(done);
          resolve();
        }, timeoutMs);
        this.waiters.add(done);
      });
    }
    return this.report();
  }

  report(): CheckReport {
    const recipients: Record<string, RecipientReport> = {};
    let sent = 0;
    let delivered = 0;
    let lost = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    let unexpected = 0;
    for (const [id, r] of this.recipients) {
      const missing = [...r.expected.keys()].filter((m) => !r.seen.has(m)).length;
      recipients[id] = {
        expected: r.expected.size,
        received: r.received,
        lost: missing,
        duplicated: r.duplicated,
        outOfOrder: r.outOfOrder,
      };
      sent += r.expected.size;
      delivered += r.expected.size - missing;
      lost += missing;
      duplicated += r.duplicated;
      outOfOrder += r.outOfOrder;
      unexpected += r.unexpected;
    }
    return { sent, delivered, lost, duplicated, outOfOrder, unexpected, recipients };
  }

  private recipient(id: string): Recipient {
    let r = this.recipients.get(id);
    if (!r) {
      r = {
        expected: new Map(),
        seen: new Set(),
        lastSeq: 0,
        received: 0,
        duplicated: 0,
        outOfOrder: 0,
        unexpected: 0,
        lastIndexFrom: new Map(),
      };
      this.recipients.set(id, r);
    }
    return r;
  }
}
