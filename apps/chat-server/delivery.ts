// The send path of a chat server: a message for a recipient of this region is
// stored in the recipient's inbox (which gives it its place in the recipient's
// order) and then published to the recipient's topic, whether or not anyone
// is subscribed to it; a message for a recipient of another region is handed
// to that region's chat server, which does the same there.
//
// A message to a group is routed to the chat server serving the group's home
// region, which checks the sender is a member and hands each member's copy to
// the chat server serving that member's region. There every copy is stored in
// the member's inbox first; then, in per-user fan-out, published to each
// member's topic, and in per-group fan-out, published once to the group's
// channel of that region with every member's sequence (the WSSs forward it).
import type { Fanout, Regions } from "../../regions/schema.ts";
import { ChatError } from "../shared/errors.ts";
import { eachLimited, type GroupStore } from "../shared/groups.ts";
import { groupChannel, parseId, regionOf, userTopic } from "../shared/ids.ts";
import type { Inbox } from "../shared/inbox.ts";
import type { RegionLeases } from "../shared/leases.ts";
import type { Logger } from "../shared/logger.ts";
import {
  groupFrame,
  groupMessageId,
  messageId,
  msgFrame,
  type SendRequest,
} from "../shared/message.ts";
import type { CsMetrics } from "../shared/metrics.ts";
import type { RateLimiter } from "../shared/rate-limit.ts";
import type { Publisher } from "./publisher.ts";

/** A send whose sender is known (a token subject, or a peer's word for it). */
export type Submission = SendRequest & {
  readonly from: string;
  readonly sentAt: number;
};

export interface Accepted {
  readonly id: string;
  readonly duplicate: boolean;
  /** For a group message: the members it was stored for. */
  readonly recipients?: number;
}

/** One group message's copies for members one region serves. */
export interface GroupCopies {
  readonly id: string;
  readonly from: string;
  readonly group: string;
  readonly body: string;
  readonly sentAt: number;
  readonly members: readonly string[];
}

/** Hands a submission to the chat server of another region (the one named). */
export type PeerForwarder = (region: string, s: Submission) => Promise<Accepted>;

/** Hands group copies to the chat server of another region (the one named). */
export type CopiesForwarder = (
  region: string,
  c: GroupCopies,
) => Promise<{ duplicates: number }>;

/** Appends of one group message's copies that run at once. */
const APPEND_CONCURRENCY = 32;

export interface DeliveryDeps {
  /** This chat server's region. */
  readonly region: string;
  readonly regions: Regions;
  readonly inbox: Inbox;
  readonly publisher: Publisher;
  /** Who serves each region's users; appends happen only under a held lease. */
  readonly leases: RegionLeases;
  readonly forward: PeerForwarder;
  readonly forwardCopies: CopiesForwarder;
  readonly groups: GroupStore;
  /** Group copies per sender (a group message costs one per member). */
  readonly groupCopies?: RateLimiter;
  /** How stored messages reach the WSSs. @default "per-user" */
  readonly fanout?: Fanout;
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
    // A group message goes where the group's home is served; a direct one
    // where the recipient's is.
    const home = parseId(
      s.group ?? s.to,
      this.d.regions,
      s.group ? "group" : "to",
    ).region;
    const owner = this.d.leases.owner(home);
    if (owner !== this.d.region) {
      if (!mayForward) {
        const message = `region ${home} is served by ${owner}, not ${this.d.region}; retry`;
        throw new ChatError("UNAVAILABLE", message);
      }
      const out = await this.d.forward(owner, s);
      this.d.metrics.accepted.inc({ route: "forwarded" });
      return out;
    }
    if (s.group !== undefined) return this.submitGroup(s, s.group);

    const { leases, metrics } = this.d;
    this.requireLease(home);

    const id = messageId(s.from, s.clientMsgId, s.to);
    const entry = { id, from: s.from, to: s.to, body: s.body, sentAt: s.sentAt };
    const epoch = leases.get(home)?.epoch;
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

  /**
   * A message to every member of a group, at the chat server serving the
   * group's home region: it stores a copy for each member (through the chat
   * servers serving the members' regions) before it answers.
   */
  private async submitGroup(s: Submission, groupId: string): Promise<Accepted> {
    const { region, leases, metrics } = this.d;

    const group = await this.d.groups.get(groupId);
    if (!group) throw new ChatError("NOT_FOUND", `no group ${groupId}`);
    if (!group.members.includes(s.from)) {
      throw new ChatError("FORBIDDEN", `${s.from} is not a member of ${groupId}`);
    }
    const wait = this.d.groupCopies?.take(s.from, group.members.length) ?? 0;
    if (wait > 0) {
      throw new ChatError(
        "RATE_LIMITED",
        `too many group messages (one per member); retry in ${wait} s`,
      );
    }

    const byServer = new Map<string, string[]>();
    for (const m of group.members) {
      const server = leases.owner(regionOf(m));
      const list = byServer.get(server) ?? [];
      list.push(m);
      byServer.set(server, list);
    }
    const id = groupMessageId(s.from, s.clientMsgId, groupId);
    const copy = { id, from: s.from, group: groupId, body: s.body, sentAt: s.sentAt };
    const results = await Promise.all(
      [...byServer].map(([server, members]) =>
        server === region
          ? this.storeCopies({ ...copy, members })
          : this.d.forwardCopies(server, { ...copy, members }),
      ),
    );
    const duplicates = results.reduce((n, r) => n + r.duplicates, 0);
    metrics.accepted.inc({ route: "group" });
    return {
      id,
      duplicate: duplicates === group.members.length,
      recipients: group.members.length,
    };
  }

  /**
   * Stores a group message's copies for members of regions this chat server
   * serves, then publishes them (per member, or once for the group).
   */
  async storeCopies(c: GroupCopies): Promise<{ duplicates: number }> {
    const { region, metrics } = this.d;
    for (const r of new Set(c.members.map(regionOf))) this.requireLease(r);

    const seqs: Record<string, number> = {};
    const publishes: Promise<unknown>[] = [];
    let duplicates = 0;
    const perUser = this.d.fanout !== "per-group";
    const stored = metrics.store.startTimer();
    await eachLimited(c.members, APPEND_CONCURRENCY, async (to) => {
      const epoch = this.d.leases.get(regionOf(to))?.epoch;
      const entry = {
        id: c.id,
        from: c.from,
        to,
        group: c.group,
        body: c.body,
        sentAt: c.sentAt,
      };
      const out = await this.d.inbox.append(to, { ...entry, epoch });
      this.backlog.stored(to, out.seq);
      seqs[to] = out.seq;
      if (out.duplicate) duplicates++;
      if (perUser) {
        publishes.push(
          this.d.publisher.publish(userTopic(to), msgFrame({ seq: out.seq, ...entry })),
        );
      }
    });
    stored();

    const published = metrics.publish.startTimer();
    if (!perUser) {
      const { id, from, group, body, sentAt } = c;
      const frame = groupFrame({ id, from, group, body, sentAt, seqs });
      publishes.push(this.d.publisher.publish(groupChannel(c.group, region), frame));
    }
    await Promise.all(publishes);
    published();
    if (duplicates > 0) metrics.duplicates.inc(duplicates);
    metrics.groupCopies.inc(c.members.length);
    return { duplicates };
  }

  /** Throws unless this chat server may append for `userRegion`'s users now. */
  private requireLease(userRegion: string): void {
    if (!this.d.leases.holds(userRegion, this.d.region, this.marginMs)) {
      throw new ChatError("UNAVAILABLE", `region ${userRegion} is changing hands; retry`);
    }
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
