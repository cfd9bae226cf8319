// The send path of a chat server: a message for a recipient of this region is
// stored in the recipient's inbox (which gives it its place in the recipient's
// order) and then published to the recipient's topic if they are connected; a
// message for a recipient of another region is handed to that region's chat
// server, which does the same there.
import type { Regions } from "../../regions/schema.ts";
import { ChatError } from "../shared/errors.ts";
import { parseId, userTopic } from "../shared/ids.ts";
import type { Inbox } from "../shared/inbox.ts";
import type { Logger } from "../shared/logger.ts";
import { messageId, msgFrame, type SendRequest } from "../shared/message.ts";
import type { CsMetrics } from "../shared/metrics.ts";
import type { PresenceCache } from "../shared/presence.ts";
import type { Publisher } from "./publisher.ts";

/** A send whose sender is known (a token subject, or a peer's word for it). */
export interface Submission extends SendRequest {
  readonly from: string;
  readonly sentAt: number;
}

export interface Accepted {
  readonly id: string;
  readonly duplicate: boolean;
}

/** Hands a submission to the chat server of another region. */
export type PeerForwarder = (region: string, s: Submission) => Promise<Accepted>;

export class Delivery {
  /** What this chat server knows of its recipients' stored and acknowledged sequences. */
  readonly backlog = new BacklogEstimate();

  constructor(
    private readonly region: string,
    private readonly regions: Regions,
    private readonly inbox: Inbox,
    private readonly presence: PresenceCache,
    private readonly publisher: Publisher,
    private readonly forward: PeerForwarder,
    private readonly log: Logger,
    private readonly metrics: CsMetrics,
  ) {}

  /**
   * Accepts a message. `mayForward` is false for messages that a peer already
   * routed here: they must be for this region.
   */
  async submit(s: Submission, mayForward: boolean): Promise<Accepted> {
    const to = parseId(s.to, this.regions, "to");
    if (to.region !== this.region) {
      if (!mayForward) {
        throw new ChatError(
          "BAD_REQUEST",
          `recipient ${s.to} is not homed in ${this.region}`,
        );
      }
      const out = await this.forward(to.region, s);
      this.metrics.accepted.inc({ route: "forwarded" });
      return out;
    }

    const id = messageId(s.from, s.clientMsgId);
    const entry = { id, from: s.from, to: s.to, body: s.body, sentAt: s.sentAt };
    const stored = this.metrics.store.startTimer();
    const { seq, duplicate } = await this.inbox.append(s.to, entry);
    stored();
    this.backlog.stored(s.to, seq);

    if (!this.presence.synced || this.presence.isOnline(s.to)) {
      const published = this.metrics.publish.startTimer();
      await this.publisher.publish(userTopic(s.to), msgFrame({ seq, ...entry }));
      published();
    }
    this.metrics.accepted.inc({ route: "local" });
    if (duplicate) {
      this.metrics.duplicates.inc();
      this.log.debug({ id, to: s.to, seq }, "duplicate send");
    }
    return { id, duplicate };
  }
}

/**
 * Stored-but-unacknowledged messages of the recipients this chat server
 * stored for recently (bounded): a cheap estimate of the inbox backlog.
 */
export class BacklogEstimate {
  private readonly users = new Map<string, { tail: number; acked: number }>();

  constructor(private readonly maxUsers = 100_000) {}

  stored(user: string, seq: number): void {
    const u = this.entry(user);
    u.tail = Math.max(u.tail, seq);
  }

  acked(user: string, upTo: number): void {
    const u = this.entry(user);
    u.acked = Math.max(u.acked, upTo);
  }

  get total(): number {
    let n = 0;
    for (const u of this.users.values()) n += Math.max(0, u.tail - u.acked);
    return n;
  }

  private entry(user: string): { tail: number; acked: number } {
    let u = this.users.get(user);
    if (u) {
      this.users.delete(user);
    } else {
      u = { tail: 0, acked: 0 };
      if (this.users.size >= this.maxUsers) {
        const oldest = this.users.keys().next().value;
        if (oldest !== undefined) this.users.delete(oldest);
      }
    }
    this.users.set(user, u);
    return u;
  }
}
