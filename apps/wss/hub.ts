// One Redis subscriber per WSS, one topic per user shared by all of that
// user's connections on this WSS. Resubscription after Redis comes back is
// done here (not by the client library) so that every connection's catch-up
// from the inbox starts only once its topic is subscribed again: nothing
// published in between can fall through.
import type { Redis } from "ioredis";

import { userTopic } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";

/** What the hub needs of a connection. */
export interface Member {
  /** A live frame for this member's user. */
  live(seq: number, frame: string): void;
  /** Redis came back: read the inbox for anything missed. */
  catchUp(): void;
}

interface Topic {
  readonly members: Set<Member>;
  subscribed: Promise<void>;
}

const RESUBSCRIBE_CHUNK = 500;

export class Hub {
  private readonly topics = new Map<string, Topic>();
  private lostConnection = false;
  /** Times the subscriber connection came back and topics were subscribed again. */
  resubscribes = 0;
  /** Live messages that could not be parsed (and were dropped; the inbox has them). */
  badMessages = 0;

  constructor(
    private readonly sub: Redis,
    private readonly log: Logger,
  ) {
    sub.on("message", (channel: string, message: string) =>
      this.dispatch(channel, message),
    );
    sub.on("close", () => (this.lostConnection = true));
    sub.on("ready", () => {
      if (this.lostConnection) void this.resubscribeAll();
    });
  }

  /** Users with at least one connection here. */
  get users(): number {
    return this.topics.size;
  }

  get channels(): string[] {
    return [...this.topics.keys()];
  }

  /** Adds a member for `user`; resolves once the user's topic is subscribed. */
  async join(user: string, member: Member): Promise<void> {
    const channel = userTopic(user);
    let topic = this.topics.get(channel);
    if (!topic) {
      topic = { members: new Set(), subscribed: this.subscribe([channel]) };
      this.topics.set(channel, topic);
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
    this.sub.unsubscribe(channel).catch(() => {
      // Not subscribed any more after a reconnect: nothing to undo.
    });
  }

  private async subscribe(channels: string[]): Promise<void> {
    for (;;) {
      try {
        await this.sub.subscribe(...channels);
        return;
      } catch (err) {
        this.log.warn({ err }, "subscribe failed; retrying");
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async resubscribeAll(): Promise<void> {
    this.lostConnection = false;
    const channels = this.channels;
    this.log.info({ channels: channels.length }, "redis back; subscribing again");
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_CHUNK) {
      await this.subscribe(channels.slice(i, i + RESUBSCRIBE_CHUNK));
    }
    this.resubscribes++;
    for (const topic of this.topics.values()) for (const m of topic.members) m.catchUp();
  }

  private dispatch(channel: string, message: string): void {
    const topic = this.topics.get(channel);
    if (!topic) return;

    const seq = seqOf(message);
    if (seq === undefined) {
      this.badMessages++;
      return;
    }
    for (const m of topic.members) m.live(seq, message);
  }
}

/** The `seq` of a published frame without parsing the body. */
function seqOf(message: string): number | undefined {
  const m = /^\{"type":"msg","seq":(\d+),/.exec(message);
  return m ? Number(m[1]) : undefined;
}
