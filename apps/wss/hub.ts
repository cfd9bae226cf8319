// One Redis subscriber per WSS, one topic per user shared by all of that
// user's connections on this WSS. Resubscription after Redis comes back is
// done here (not by the client library) so that every connection's catch-up
// from the inbox starts only once its topic is subscribed again: nothing
// published in between can fall through.
//
// In per-group fan-out the hub also subscribes, for the groups of the users it
// holds, each group's channel of this region (`g:<group>:<region>`), and the
// region's control channel on which the chat servers announce membership
// changes. A group frame carries every member's sequence; the hub turns it
// into each connected member's own message frame.
import type { Redis } from "ioredis";

import type { Fanout } from "../../regions/schema.ts";
import { GROUP_CONTROL_CHANNEL, groupChannel, userTopic } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";
import { msgFrame, type GroupFrame } from "../shared/message.ts";

/** What the hub needs of a connection. */
export interface Member {
  /** A live frame for this member's user. */
  live(seq: number, frame: string): void;
  /** Redis came back (or the user joined a group): read the inbox for anything missed. */
  catchUp(): void;
}

/** Reads a user's groups (the region's Redis, backed by the group store). */
export type GroupLoader = (user: string) => Promise<string[]>;

export interface HubOptions {
  /** @default "per-user" */
  readonly fanout?: Fanout;
  /** This WSS's region: the suffix of the group channels it subscribes. */
  readonly region?: string;
  /** Required in per-group fan-out. */
  readonly loadGroups?: GroupLoader;
}

/** A membership change as announced on the control channel: whose lists changed. */
interface ControlFrame {
  readonly users: readonly string[];
}

interface Topic {
  readonly members: Set<Member>;
  subscribed: Promise<void>;
  /** Group channels subscribed for this user (per-group fan-out). */
  readonly groups: Set<string>;
}

interface GroupTopic {
  /** Users held here who are members. */
  readonly users: Set<string>;
  readonly subscribed: Promise<void>;
}

const RESUBSCRIBE_CHUNK = 500;
const RETRY_MS = 200;

export class Hub {
  private readonly topics = new Map<string, Topic>();
  private readonly groupTopics = new Map<string, GroupTopic>();
  /** Users whose group lists are being read, and whether to read again after. */
  private readonly refreshing = new Map<
    string,
    { again: boolean; done: Promise<void> }
  >();
  private lostConnection = false;
  private readonly perGroup: boolean;
  private readonly region: string;
  private readonly loadGroups: GroupLoader;
  /** Times the subscriber connection came back and topics were subscribed again. */
  resubscribes = 0;
  /** Live messages that could not be parsed (and were dropped; the inbox has them). */
  badMessages = 0;

  constructor(
    private readonly sub: Redis,
    private readonly log: Logger,
    options: HubOptions = {},
  ) {
    this.perGroup = options.fanout === "per-group";
    this.region = options.region ?? "";
    if (this.perGroup && (!options.loadGroups || !options.region)) {
      throw new Error("per-group fan-out needs the hub's region and a group loader");
    }
    this.loadGroups = options.loadGroups ?? (async () => []);
    sub.on("message", (channel: string, message: string) =>
      this.dispatch(channel, message),
    );
    sub.on("close", () => (this.lostConnection = true));
    sub.on("ready", () => {
      if (this.lostConnection) void this.resubscribeAll();
    });
  }

  /** Subscribes the control channel (per-group fan-out); resolves once subscribed. */
  async start(): Promise<void> {
    if (this.perGroup) await this.subscribe([GROUP_CONTROL_CHANNEL]);
  }

  /** Group channels subscribed (per-group fan-out). */
  get groupChannelCount(): number {
    return this.groupTopics.size;
  }

  /**
   * Adds a member for `user`; resolves once the user's topic (and, in
   * per-group fan-out, the channels of the user's groups) are subscribed.
   */
  async join(user: string, member: Member): Promise<void> {
    const channel = userTopic(user);
    let topic = this.topics.get(channel);
    if (!topic) {
      topic = { members: new Set(), subscribed: Promise.resolve(), groups: new Set() };
      this.topics.set(channel, topic);
      topic.subscribed = this.subscribeUser(user, channel);
    }
    topic.members.add(member);
    await topic.subscribed;
  }

  leave(user: string, member: Member): void {
    const channel = userTopic(user);
    const topic = this.topics.get(channel);
    if (!topic) return;

    topic.members.delete(member);
    if (topic.members.size > 0) return;
    this.topics.delete(channel);
    this.unsubscribe([channel]);
    for (const g of topic.groups) this.dropGroupInterest(user, g);
  }

  private async subscribeUser(user: string, channel: string): Promise<void> {
    await this.subscribe([channel]);
    if (this.perGroup) await this.refreshGroups(user);
  }

  /**
   * Reads the user's groups and follows them. Runs once at a time per user
   * (a call while one runs makes it read again after), so a slow read can
   * never undo a later one. Resolves once the channels are subscribed.
   */
  private async refreshGroups(user: string): Promise<void> {
    const running = this.refreshing.get(user);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: false, done: Promise.resolve() };
    this.refreshing.set(user, state);
    state.done = (async () => {
      try {
        do {
          state.again = false;
          const added = await this.followGroups(user, await this.groupsWithRetry(user));
          // A message sent between a membership change and this subscription
          // was published before anyone here listened: read the inbox.
          if (added)
            for (const m of this.topics.get(userTopic(user))?.members ?? []) m.catchUp();
        } while (state.again);
      } finally {
        this.refreshing.delete(user);
      }
    })();
    return state.done;
  }

  /** The user's groups; retried until read or the user has left. */
  private async groupsWithRetry(user: string): Promise<string[]> {
    for (;;) {
      try {
        return await this.loadGroups(user);
      } catch (err) {
        if (!this.topics.has(userTopic(user))) return [];
        this.log.warn({ err, user }, "reading the user's groups failed; retrying");
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  /** Makes the group channels subscribed for `user` exactly those of `groups`. */
  /** Returns true when a channel was added. */
  private async followGroups(user: string, groups: readonly string[]): Promise<boolean> {
    const topic = this.topics.get(userTopic(user));
    if (!topic) return false;

    const wanted = new Set(groups.map((g) => groupChannel(g, this.region)));
    for (const g of [...topic.groups]) {
      if (!wanted.has(g)) {
        topic.groups.delete(g);
        this.dropGroupInterest(user, g);
      }
    }
    const pending: Promise<void>[] = [];
    for (const g of wanted) {
      if (!topic.groups.has(g)) {
        topic.groups.add(g);
        pending.push(this.addGroupInterest(user, g));
      }
    }
    await Promise.all(pending);
    return pending.length > 0;
  }

  private addGroupInterest(user: string, channel: string): Promise<void> {
    let gt = this.groupTopics.get(channel);
    if (!gt) {
      gt = { users: new Set(), subscribed: this.subscribe([channel]) };
      this.groupTopics.set(channel, gt);
    }
    gt.users.add(user);
    return gt.subscribed;
  }

  private dropGroupInterest(user: string, channel: string): void {
    const gt = this.groupTopics.get(channel);
    if (!gt) return;

    gt.users.delete(user);
    if (gt.users.size > 0) return;
    this.groupTopics.delete(channel);
    this.unsubscribe([channel]);
  }

  private async subscribe(channels: string[]): Promise<void> {
    for (;;) {
      try {
        await this.sub.subscribe(...channels);
        return;
      } catch (err) {
        this.log.warn({ err }, "subscribe failed; retrying");
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  private unsubscribe(channels: string[]): void {
    this.sub.unsubscribe(...channels).catch(() => {
      // Not subscribed any more after a reconnect: nothing to undo.
    });
  }

  private async resubscribeAll(): Promise<void> {
    this.lostConnection = false;
    const channels = [...this.topics.keys(), ...this.groupTopics.keys()];
    if (this.perGroup) channels.push(GROUP_CONTROL_CHANNEL);
    this.log.info({ channels: channels.length }, "redis back; subscribing again");
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_CHUNK) {
      await this.subscribe(channels.slice(i, i + RESUBSCRIBE_CHUNK));
    }
    if (this.perGroup) {
      // Membership changes announced while the subscriber was away were missed.
      const users = [...this.topics.keys()].map((c) => c.slice(c.indexOf(":") + 1));
      for (const user of users) {
        await this.refreshGroups(user);
      }
    }
    this.resubscribes++;
    for (const topic of this.topics.values()) for (const m of topic.members) m.catchUp();
  }

  private dispatch(channel: string, message: string): void {
    const topic = this.topics.get(channel);
    if (topic) {
      const seq = seqOf(message);
      if (seq === undefined) {
        this.badMessages++;
        return;
      }
      for (const m of topic.members) m.live(seq, message);
      return;
    }
    const gt = this.groupTopics.get(channel);
    if (gt) return this.dispatchGroup(gt, message);
    if (channel === GROUP_CONTROL_CHANNEL) this.control(message);
  }

  /** Hands each connected member of a group message its own frame. */
  private dispatchGroup(gt: GroupTopic, message: string): void {
    let g: GroupFrame;
    try {
      g = JSON.parse(message) as GroupFrame;
      if (g.type !== "gmsg" || typeof g.seqs !== "object" || g.seqs === null) throw 0;
    } catch {
      this.badMessages++;
      return;
    }
    for (const user of gt.users) {
      const seq = g.seqs[user];
      const topic = this.topics.get(userTopic(user));
      if (typeof seq !== "number" || !topic) continue;
      const frame = msgFrame({
        seq,
        id: g.id,
        from: g.from,
        to: user,
        group: g.group,
        body: g.body,
        sentAt: g.sentAt,
      });
      for (const m of topic.members) m.live(seq, frame);
    }
  }

  /**
   * A membership change: the users held here read their group lists again
   * (the announcement says who changed, the store says what is true now, so
   * announcements of racing changes arriving in any order end right).
   */
  private control(message: string): void {
    let c: ControlFrame;
    try {
      c = JSON.parse(message) as ControlFrame;
      if (!Array.isArray(c.users)) throw 0;
    } catch {
      this.badMessages++;
      return;
    }
    for (const user of c.users) {
      if (typeof user === "string" && this.topics.has(userTopic(user))) {
        void this.refreshGroups(user);
      }
    }
  }
}

/** The `seq` of a published frame without parsing the body. */
function seqOf(message: string): number | undefined {
  const m = /^\{"type":"msg","seq":(\d+),/.exec(message);
  return m ? Number(m[1]) : undefined;
}
