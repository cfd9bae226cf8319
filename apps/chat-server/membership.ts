// Membership changes, made durable in the group store, are then announced in
// every region: there the chat server drops the changed users' cached group
// lists from its Redis and publishes the change on the control channel, so a
// WSS holding one of those users subscribes or unsubscribes the group channel
// at once. A region that cannot be told now is told again in the background;
// until then its WSSs follow the change the next time they read the list.
import type { Redis } from "ioredis";

import { ChatError } from "../shared/errors.ts";
import type { UserGroups } from "../shared/groups.ts";
import { GROUP_CONTROL_CHANNEL } from "../shared/ids.ts";
import type { Logger } from "../shared/logger.ts";

export interface MembershipChange {
  readonly op: "add" | "remove";
  readonly group: string;
  readonly users: readonly string[];
}

/** Announces a change to another region's chat server. */
export type ChangeForwarder = (region: string, change: MembershipChange) => Promise<void>;

export interface AnnouncerOptions {
  /** Tries per region before a change is given up (the cache TTL bounds it then). @default 20 */
  readonly attempts?: number;
  /** Pause between tries. @default 1000 */
  readonly retryMs?: number;
}

export class MembershipAnnouncer {
  private readonly attempts: number;
  private readonly retryMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Announcements to other regions given up after every try failed. */
  givenUp = 0;

  constructor(
    private readonly region: string,
    private readonly otherRegions: readonly string[],
    private readonly redis: Redis,
    private readonly userGroups: UserGroups,
    private readonly forward: ChangeForwarder,
    private readonly log: Logger,
    options: AnnouncerOptions = {},
  ) {
    this.attempts = options.attempts ?? 20;
    this.retryMs = options.retryMs ?? 1000;
  }

  /**
   * Announces a change here and in every other region. Resolves once this
   * region and every region that answered have it; regions that did not are
   * retried in the background.
   */
  async announce(change: MembershipChange): Promise<void> {
    if (change.users.length === 0) return;
    await Promise.all([
      this.apply(change),
      ...this.otherRegions.map((r) => this.tell(r, change, 1)),
    ]);
  }

  /** Applies a change in this region: cached lists dropped, WSSs told. */
  async apply(change: MembershipChange): Promise<void> {
    try {
      await this.userGroups.invalidate(change.users);
      await this.redis.publish(GROUP_CONTROL_CHANNEL, JSON.stringify(change));
    } catch (err) {
      throw new ChatError(
        "UNAVAILABLE",
        `the change to ${change.group} is stored, but region ${this.region}'s Redis ` +
          "is unreachable to announce it; retry the same change",
        { cause: err },
      );
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private async tell(region: string, change: MembershipChange, attempt: number) {
    try {
      await this.forward(region, change);
    } catch (err) {
      if (attempt >= this.attempts) {
        this.givenUp++;
        this.log.warn(
          { err, region, group: change.group },
          "membership change not announced",
        );
        return;
      }
      if (attempt === 1) {
        this.log.warn(
          { err, region, group: change.group },
          "announcing a membership change failed; retrying",
        );
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.tell(region, change, attempt + 1);
      }, this.retryMs);
      timer.unref();
      this.timers.add(timer);
    }
  }
}
