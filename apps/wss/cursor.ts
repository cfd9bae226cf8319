// The delivery cursor of one connection: it puts a recipient's messages on the
// socket exactly once and in sequence order. Live messages from Redis are sent
// when they are next in line; anything else (a gap, a replay on resume, a
// catch-up after Redis came back, a socket that fell behind) is read from the
// inbox, which holds every message before it is published. Live messages that
// arrive while the inbox is being read are held back and sent in order after.
import { withDefaults } from "../shared/options.ts";

export interface CursorEntry {
  readonly seq: number;
  /** The frame to put on the socket, already serialized. */
  readonly frame: string;
}

export interface CursorIO {
  /** Inbox entries with a sequence above `after`, in order, at most `limit`. */
  read(after: number, limit: number): Promise<CursorEntry[]>;
  /**
   * Writes a frame (`replayed` when it came from the inbox rather than live);
   * returns false when the socket is congested and should get no more.
   */
  send(frame: string, replayed: boolean): boolean;
  /** Reports a failed inbox read (the cursor retries by itself). */
  onError?(err: unknown): void;
}

export interface CursorOptions {
  /** Live messages held back during a read; past it they are dropped and re-read. @default 1000 */
  readonly maxHeld?: number;
  /** Entries per inbox read. @default 200 */
  readonly pageSize?: number;
  /** Pause before a failed inbox read is tried again. @default 500 */
  readonly retryMs?: number;
}

const DEFAULTS: Required<CursorOptions> = Object.freeze({
  maxHeld: 1000,
  pageSize: 200,
  retryMs: 500,
});
const NO_OPTIONS: CursorOptions = Object.freeze({});

export class Cursor {
  private last = 0;
  private sentHere = 0;
  private started = false;
  private closed = false;
  private stalled = false;
  private reading = false;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Live messages held back, made when first needed: most cursors never hold one. */
  private held: Map<number, string> | undefined;
  private readonly o: Required<CursorOptions>;
  /** Messages put on the socket that came from the inbox rather than live. */
  replayed = 0;

  constructor(
    private readonly io: CursorIO,
    options: CursorOptions = NO_OPTIONS,
  ) {
    // Shared when nothing is set: one cursor per connection, thousands of them.
    this.o = options === NO_OPTIONS ? DEFAULTS : withDefaults(DEFAULTS, options);
  }

  /** The highest sequence the client holds: put on the socket, or resumed after. */
  get lastSent(): number {
    return this.last;
  }

  /** The highest sequence actually put on this socket (0 when none). */
  get deliveredHere(): number {
    return this.sentHere;
  }

  get isStalled(): boolean {
    return this.stalled;
  }

  /** Starts delivery after `after` (the last sequence the client holds): replay, then live. */
  start(after: number): Promise<void> {
    this.last = after;
    this.started = true;
    return this.catchUp();
  }

  /** A message from the live path. */
  live(seq: number, frame: string): void {
    if (this.closed || !this.started || seq <= this.last) return;

    if (!this.reading && !this.stalled && seq === this.last + 1) {
      this.put(seq, frame, false);
      this.flushHeld();
      return;
    }
    const held = (this.held ??= new Map());
    if (this.stalled || held.size >= this.o.maxHeld) {
      this.again = true;
    } else {
      held.set(seq, frame);
    }
    if (!this.reading && !this.stalled) void this.catchUp();
  }

  /**
   * Reads the inbox after the last sequence sent until it is exhausted, then
   * sends whatever was held back. Safe to call at any time, any number of times.
   */
  async catchUp(): Promise<void> {
    if (this.closed || !this.started) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.again = false;
        this.flushHeld();
        if (this.stalled) break;
        const page = await this.io.read(this.last, this.o.pageSize);
        for (const e of page) {
          if (this.closed || this.stalled) break;
          if (e.seq <= this.last) continue;
          this.put(e.seq, e.frame, true);
          this.replayed++;
        }
        if (page.length === this.o.pageSize) this.again = true;
      } while (this.again && !this.closed && !this.stalled);
      this.flushHeld();
    } catch (err) {
      this.io.onError?.(err);
      this.scheduleRetry();
    } finally {
      this.reading = false;
    }
    // A held message beyond the next one means the inbox read raced its write:
    // read again shortly rather than wait for the next live message.
    if (this.held !== undefined && this.held.size > 0 && !this.stalled) {
      this.scheduleRetry();
    }
  }

  /** The socket drained after a stall: deliver what was missed from the inbox. */
  resume(): void {
    if (!this.stalled) return;
    this.stalled = false;
    void this.catchUp();
  }

  close(): void {
    this.closed = true;
    this.held = undefined;
    clearTimeout(this.retryTimer);
  }

  private put(seq: number, frame: string, replayed: boolean): void {
    this.last = seq;
    this.sentHere = seq;
    if (!this.io.send(frame, replayed)) {
      this.stalled = true;
      this.held = undefined;
    }
  }

  private flushHeld(): void {
    const held = this.held;
    if (held === undefined) return;
    for (const seq of held.keys()) if (seq <= this.last) held.delete(seq);
    for (;;) {
      const frame = held.get(this.last + 1);
      if (frame === undefined || this.stalled) break;
      held.delete(this.last + 1);
      this.put(this.last + 1, frame, false);
    }
    if (held.size === 0 && this.held === held) this.held = undefined;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.catchUp();
    }, this.o.retryMs);
  }
}
