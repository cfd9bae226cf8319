// The acknowledgement worker: reads acknowledgements that WSSs append to the
// region's Redis Stream, keeps the highest per user over a flush interval, and
// then moves each user's acknowledged cursor in the inbox with one write. An
// entry leaves the stream's pending list only once its cursor update is
// stored, so a crash costs a repeated (harmless) update or a redelivery, never
// a loss.
import type { Redis } from "ioredis";

import { eachLimited } from "../shared/groups.ts";
import type { Inbox } from "../shared/inbox.ts";
import type { Logger } from "../shared/logger.ts";
import { withDefaults } from "../shared/options.ts";

export const ACK_STREAM = "chat:acks";
export const ACK_GROUP = "cs";

export interface AckWorkerOptions {
  /** Entries read per batch. @default 1000 */
  readonly batch?: number;
  /** How long one read blocks waiting for entries. @default 1000 */
  readonly blockMs?: number;
  /** Pending entries idle this long are taken over from a dead worker. @default 30000 */
  readonly claimIdleMs?: number;
  /**
   * Acknowledgements are gathered this long before the cursors are written:
   * one inbox write per busy user per interval, whatever the message rate.
   * Cursors written later cost nothing but redelivery to a device that
   * resumes without knowing what it holds. @default 5000
   */
  readonly flushMs?: number;
  /**
   * Cursor writes a flush makes at once. The inbox client holds 50 sockets;
   * a flush of thousands of users started all at once would queue every
   * send's inbox writes behind it for the length of the flush. @default 8
   */
  readonly writeConcurrency?: number;
}

const DEFAULTS = Object.freeze({
  batch: 1000,
  blockMs: 1000,
  claimIdleMs: 30_000,
  flushMs: 5000,
  writeConcurrency: 8,
});

type StreamEntry = [id: string, fields: string[]];

export class AckWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly o: Required<AckWorkerOptions>;
  private readonly highest = new Map<string, number>();
  private gathered: string[] = [];
  private flushAt = 0;
  applied = 0;

  constructor(
    private readonly redis: Redis,
    private readonly inbox: Inbox,
    private readonly consumer: string,
    private readonly log: Logger,
    private readonly onApplied: (user: string, upTo: number) => void,
    options: AckWorkerOptions = {},
  ) {
    this.o = withDefaults(DEFAULTS, options);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.flush().catch((err: unknown) =>
      this.log.warn({ err }, "last ack flush failed"),
    );
    this.redis.disconnect();
  }

  private async run(): Promise<void> {
    let claimAt = 0;
    while (this.running) {
      try {
        await this.ensureGroup();
        if (Date.now() >= claimAt) {
          await this.claimStale();
          claimAt = Date.now() + this.o.claimIdleMs / 2;
        }
        const res = (await this.redis.xreadgroup(
          "GROUP",
          ACK_GROUP,
          this.consumer,
          "COUNT",
          this.o.batch,
          "BLOCK",
          this.o.blockMs,
          "STREAMS",
          ACK_STREAM,
          ">",
        )) as [string, StreamEntry[]][] | null;
        const entries = res?.[0]?.[1] ?? [];
        if (entries.length > 0) this.gather(entries);
        if (Date.now() >= this.flushAt) {
          await this.flush();
          this.flushAt = Date.now() + this.o.flushMs;
        }
      } catch (err) {
        if (!this.running) return;
        this.log.warn({ err }, "ack worker: read failed; retrying");
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private groupReady = false;

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      await this.redis.xgroup("CREATE", ACK_STREAM, ACK_GROUP, "0", "MKSTREAM");
    } catch (err) {
      if (!String((err as Error).message).startsWith("BUSYGROUP")) throw err;
    }
    this.groupReady = true;
    this.redis.once("end", () => (this.groupReady = false));
  }

  private async claimStale(): Promise<void> {
    const res = (await this.redis.xautoclaim(
      ACK_STREAM,
      ACK_GROUP,
      this.consumer,
      this.o.claimIdleMs,
      "0",
      "COUNT",
      this.o.batch,
    )) as [string, StreamEntry[]];
    const entries = (res[1] ?? []).filter((e): e is StreamEntry => Array.isArray(e?.[1]));
    if (entries.length > 0) this.gather(entries);
  }

  private gather(entries: StreamEntry[]): void {
    for (const [id, fields] of entries) {
      this.gathered.push(id);
      const f = toRecord(fields);
      const upTo = Number(f.upTo);
      if (!f.user || !Number.isSafeInteger(upTo) || upTo < 1) continue;
      this.highest.set(f.user, Math.max(this.highest.get(f.user) ?? 0, upTo));
    }
  }

  /** Writes the gathered cursors, then releases their stream entries. */
  private async flush(): Promise<void> {
    if (this.gathered.length === 0) return;

    const users = [...this.highest];
    const ids = this.gathered;
    this.highest.clear();
    this.gathered = [];
    try {
      await eachLimited(users, this.o.writeConcurrency, async ([user, upTo]) => {
        await this.inbox.ack(user, upTo);
        this.onApplied(user, upTo);
      });
      for (let i = 0; i < ids.length; i += 1000) {
        await this.redis.xack(ACK_STREAM, ACK_GROUP, ...ids.slice(i, i + 1000));
      }
      this.applied += users.length;
    } catch (err) {
      // Not released: the entries stay pending and are claimed again later.
      for (const [user, upTo] of users) {
        this.highest.set(user, Math.max(this.highest.get(user) ?? 0, upTo));
      }
      this.gathered.push(...ids);
      throw err;
    }
  }
}

function toRecord(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}
