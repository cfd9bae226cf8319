// Publishes stored messages to recipients' topics. A publish that fails is
// retried in the background: the entry is already in the inbox, so a publish
// that never happens costs latency (the WSS finds it on its next catch-up),
// never the message.
import type { Redis } from "ioredis";

import type { Logger } from "../shared/logger.ts";
import { withDefaults } from "../shared/options.ts";

export interface PublisherOptions {
  /** Publishes waiting for a retry; past it the oldest is dropped. @default 50000 */
  readonly maxPending?: number;
  /** Pause between retry rounds. @default 200 */
  readonly retryMs?: number;
}

const DEFAULTS = Object.freeze({ maxPending: 50_000, retryMs: 200 });

export class Publisher {
  private readonly pending: { channel: string; payload: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly o: Required<PublisherOptions>;
  dropped = 0;
  failures = 0;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    options: PublisherOptions = {},
  ) {
    this.o = withDefaults(DEFAULTS, options);
  }

  get backlog(): number {
    return this.pending.length;
  }

  /** Publishes now, or queues a retry; never throws. */
  async publish(channel: string, payload: string): Promise<boolean> {
    try {
      await this.redis.publish(channel, payload);
      return true;
    } catch (err) {
      this.failures++;
      if (this.pending.length === 0) this.log.warn({ err }, "publish failed; retrying");
      this.enqueue(channel, payload);
      return false;
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private enqueue(channel: string, payload: string): void {
    this.pending.push({ channel, payload });
    if (this.pending.length > this.o.maxPending) {
      this.pending.shift();
      this.dropped++;
    }
    this.timer ??= setTimeout(() => void this.retry(), this.o.retryMs);
  }

  private async retry(): Promise<void> {
    this.timer = undefined;
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      try {
        await this.redis.publish(next.channel, next.payload);
      } catch {
        this.timer = setTimeout(() => void this.retry(), this.o.retryMs);
        return;
      }
      this.pending.shift();
    }
    this.log.info("pending publishes flushed");
  }
}
