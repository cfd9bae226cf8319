// The send path of a chat server: a message for a recipient of this region is
// stored in the recipient's inbox (which gives it its place in the recipient's
// order) and then published to the recipient's topic, whether or not anyone
// is subscribed to it; a message for a recipient of another region is handed
// to that region's chat server, which does the same there.
import type { Regions } from "../../regions/schema.ts";
import { ChatError } from "../shared/errors.ts";
import { parseId, userTopic } from "../shared/ids.ts";
import type { Inbox } from "../shared/inbox.ts";
import type { RegionLeases } from "../shared/leases.ts";
import type { Logger } from "../shared/logger.ts";
import { messageId, msgFrame, type SendRequest } from "../shared/message.ts";
import type { CsMetrics } from "../shared/metrics.ts";
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

/** Hands a submission to the chat server of another region (the one named). */
export type PeerForwarder = (region: string, s: Submission) => Promise<Accepted>;

export interface DeliveryDeps {
  /** This chat server's region. */
  readonly region: string;
  readonly regions: Regions;
  readonly inbox: Inbox;
  readonly publisher: Publisher;
  /** Who serves each region's users; appends happen only under a held lease. */
  readonly leases: RegionLeases;
  readonly forward: PeerForwarder;
  readonly log: Logger;
  readonly metrics: CsMetrics;
}

export class Delivery {
  /** What this chat server knows of its recipients' stored and acknowledged sequences. */
  readonly backlog = new BacklogEstimate();
  /** A lease must have at least this long left for an append under it. */
  private readonly marginMs: number;

  constructor(private readonly d: DeliveryDeps) {
    this.marginMs = Math.floor(d.leases.leaseMs / 5);
  }

  /**
   * Accepts a message. It is stored by the chat server of the region that
   * serves the recipient (the home region, or its stand-in during a failover).
   * `mayForward` is false for messages a peer already routed here.
   */
  async submit(s: Submission, mayForward: boolean): Promise<Accepted> {
    const { region, leases, metrics } = this.d;
    const to = parseId(s.to, this.d.regions, "to");
    const owner = leases.owner(to.region);
    if (owner !== region) {
      if (!mayForward) {
        const message = `region ${to.region} is served by ${owner}, not ${region}; retry`;
        throw new ChatError("UNAVAILABLE", message);
      }
      const out = await this.d.forward(owner, s);
      metrics.accepted.inc({ route: "forwarded" });
      return out;
    }
    if (!leases.holds(to.region, region, this.marginMs)) {
      throw new ChatError("UNAVAILABLE", `region ${to.region} is changing hands; retry`);
    }

    const id = messageId(s.from, s.clientMsgId, s.to);
    const entry = { id, from: s.from, to: s.to, body: s.body, sentAt: s.sentAt };
    const epoch = leases.get(to.region)?.epoch;
    const stored = metrics.store.startTimer();
    const { seq, duplicate } = await this.d.inbox.append(s.to, { ...entry, epoch });
    stored();
    this.backlog.stored(s.to, seq);

    // Published whoever is connected: a WSS subscribes a user's topic before
    // it reads the inbox, so a message stored after that read began always
    // reaches it live (docs/delivery.md). A publish nobody reads costs Redis
    // microseconds; asking presence first would leave a window in which a
    // fresh connection is subscribed but not yet listed.
    const published = metrics.publish.startTimer();
    await this.d.publisher.publish(userTopic(s.to), msgFrame({ seq, ...entry }));
    published();
    metrics.accepted.inc({ route: "local" });
    if (duplicate) {
      metrics.duplicates.inc();
      this.d.log.debug({ id, to: s.to, seq }, "duplicate send");
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
