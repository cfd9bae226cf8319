// One client connection: the frames it may send, its delivery cursor, its
// presence node and its share of the user's topic.
import { randomBytes } from "node:crypto";

import type { WebSocket } from "ws";

import type { Regions } from "../../regions/schema.ts";
import { ChatError, ERRORS, type ErrorCode } from "../shared/errors.ts";
import type { Inbox } from "../shared/inbox.ts";
import type { Logger } from "../shared/logger.ts";
import { msgFrame, parseSendRequest, type SendRequest } from "../shared/message.ts";
import type { WssMetrics } from "../shared/metrics.ts";
import type { PresenceRegistrar } from "../shared/presence.ts";
import type { RateLimiter } from "../shared/rate-limit.ts";
import { Cursor, type CursorEntry, type CursorIO } from "./cursor.ts";
import type { Hub, Member } from "./hub.ts";
import type { SetupGate } from "./setup-gate.ts";

/** Hands a validated send to the region's chat server. */
export type SendToChatServer = (
  from: string,
  req: SendRequest,
) => Promise<{ id: string }>;

export interface ConnectionDeps {
  readonly wssId: string;
  readonly region: string;
  readonly regions: Regions;
  readonly inbox: Inbox;
  readonly hub: Hub;
  readonly presence: PresenceRegistrar;
  readonly sendToCs: SendToChatServer;
  readonly ack: (user: string, upTo: number) => void;
  readonly log: Logger;
  readonly metrics: WssMetrics;
  /** Sends per user on this WSS. */
  readonly userSends: RateLimiter;
  /** Frames per connection; past it the connection is closed with 4008. */
  readonly connFrames: RateLimiter;
  /** Buffered bytes past which a socket gets no more live frames. */
  readonly maxBufferedBytes: number;
  /** A socket that stays past its buffer cap this long is closed with 1013. */
  readonly slowCloseMs: number;
  /** Wait for `resume` this long before starting from the acknowledged cursor. */
  readonly resumeWaitMs: number;
  /** Bounds the connection set-ups running at once; the rest wait their turn. */
  readonly setups: SetupGate;
  /** Counts sends in flight to the chat server, so a drain can wait for them. */
  readonly inflight: Set<Promise<unknown>>;
}

const SENT_AT = '"sentAt":';

/** Answers about a resume point, asked before the inbox is read after it. */
interface Probe {
  readonly after: number;
  /** Whether anything follows `after`. */
  readonly next?: Promise<boolean>;
  /** Whether the inbox holds `after` itself. */
  readonly held?: Promise<boolean>;
}

// Per-connection state is kept to plain fields (an idle server holds
// thousands): the connection is its cursor's IO and the hub's member itself,
// it logs through the server's logger with its fields at the call, and its
// timers exist only while they run.
export class Connection implements Member, CursorIO {
  readonly id = randomBytes(6).toString("hex");
  readonly connectedAt = Date.now();
  private readonly cursor: Cursor;
  private resumeTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private stalledSince = 0;
  /** Resolves once the user's topic is subscribed; dropped after set-up. */
  private joined: Promise<void> | undefined;
  private greeted = false;
  /** Frames that came before hello, handled in order right after it. */
  private early: string[] | undefined;
  private started = false;
  private closed = false;
  /** The acknowledged cursor as read for hello. */
  private ackedAtHello = 0;
  /**
   * The first inbox read after `after` may first ask whether there is
   * anything to read, and whether `after` itself is in the inbox; these are
   * the answers when they were asked along with the acknowledged cursor.
   */
  private probe: Probe | undefined;
  alive = true;

  constructor(
    private readonly ws: WebSocket,
    readonly user: string,
    private readonly deps: ConnectionDeps,
  ) {
    this.cursor = new Cursor(this);
  }

  /**
   * Subscribes the user's topic, registers presence, then reads the
   * acknowledged cursor, greets the client and, when it gave `resumeAfter`,
   * replays the inbox. The inbox reads wait for a set-up slot (at most
   * `setups.limit` connections read at once); the subscription and the
   * presence node, which Redis and ZooKeeper take pipelined, do not, and no
   * slot is held while ZooKeeper works through a storm's queue of nodes.
   */
  async open(resumeAfter: number | undefined): Promise<void> {
    if (this.closed) return;

    const { hub, presence, wssId, region } = this.deps;
    // The topic is subscribed before the inbox is read: whatever is stored
    // after a read begins is published after this, so it arrives live
    // (docs/delivery.md, "Delivering").
    this.joined = hub.join(this.user, this);
    await this.joined;
    this.joined = undefined;
    if (this.closed) return;

    await presence
      .register({
        user: this.user,
        wss: wssId,
        conn: this.id,
        region,
        at: this.connectedAt,
      })
      .catch((err: unknown) => this.warn(err, "presence registration failed"));
    if (this.closed) return;
    await this.deps.setups.run(() => this.greet(resumeAfter));
  }

  /** Handles one text frame from the client. */
  async receive(text: string): Promise<void> {
    if (this.deps.connFrames.take(this.id) > 0) {
      this.reject(
        "RATE_LIMITED",
        "too many frames; reconnect later",
        ERRORS.RATE_LIMITED.close,
      );
      return;
    }
    if (this.closed) return;
    // Hello is always the first frame: what comes before it waits for it.
    if (!this.greeted) {
      (this.early ??= []).push(text);
      return;
    }
    return this.handle(text);
  }

  private async handle(text: string): Promise<void> {
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw 0;
      msg = parsed as Record<string, unknown>;
    } catch {
      return this.error("BAD_FRAME", "a frame must be a JSON object with a type");
    }

    const type = typeof msg.type === "string" ? msg.type : "";
    switch (type) {
      case "resume":
        this.deps.metrics.framesIn.inc({ type });
        return this.onResume(msg.after);
      case "ack":
        this.deps.metrics.framesIn.inc({ type });
        return this.onAck(msg.upTo);
      case "send":
        this.deps.metrics.framesIn.inc({ type });
        return this.onSend(msg);
      case "ping":
        this.deps.metrics.framesIn.inc({ type });
        return this.frame({ type: "pong" });
      default:
        return this.error(
          "BAD_FRAME",
          `unknown frame type ${JSON.stringify(msg.type)?.slice(0, 40)}; ` +
            "use send, ack, resume or ping",
        );
    }
  }

  // Member: called by the hub.
  live(seq: number, frame: string): void {
    // A message before the cursor starts may have been stored after the
    // answer fetched with the acknowledged cursor was read: ask again.
    if (!this.started && this.probe) this.probe = { after: this.probe.after };
    this.cursor.live(seq, frame);
  }

  catchUp(): void {
    void this.cursor.catchUp();
  }

  // CursorIO: called by the cursor.
  async read(after: number, limit: number): Promise<CursorEntry[]> {
    // Most connects have nothing new: a batched key lookup says so for a
    // fraction of a query's cost.
    const probe = this.probe;
    this.probe = undefined;
    if (probe?.after === after) {
      const { inbox } = this.deps;
      // Past the acknowledged cursor, `after` must be a message this inbox
      // holds (sequences have no holes): a cursor from before the inbox was
      // emptied would otherwise skip every new message up to it, silently.
      const [held, next] = await Promise.all([
        after > this.ackedAtHello
          ? (probe.held ?? inbox.hasAfter(this.user, after - 1))
          : true,
        probe.next ?? inbox.hasAfter(this.user, after),
      ]);
      if (!held) {
        this.resumedAhead(after);
        return [];
      }
      if (!next) return [];
    }
    const entries = await this.deps.inbox.read(this.user, after, limit);
    return entries.map((e) => ({ seq: e.seq, frame: msgFrame(e) }));
  }

  send(frame: string, replayed: boolean): boolean {
    return this.writeMsg(frame, replayed);
  }

  onError(err: unknown): void {
    this.warn(err, "inbox read failed; retrying");
  }

  /** Closes the socket with a code; the close event then releases everything. */
  reject(code: ErrorCode, message: string, closeCode: number): void {
    this.deps.metrics.rejected.inc({ reason: code });
    this.ws.close(closeCode, message);
  }

  /** Releases the topic, the presence node and the timers. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.early = undefined;
    clearTimeout(this.resumeTimer);
    clearInterval(this.drainTimer);
    this.cursor.close();
    this.deps.connFrames.forget(this.id);
    await this.joined?.catch(() => undefined);
    this.deps.hub.leave(this.user, this);
    await this.deps.presence
      .unregister({ user: this.user, wss: this.deps.wssId, conn: this.id })
      .catch((err: unknown) => this.warn(err, "presence removal failed"));
  }

  /** Reads the acknowledged cursor, sends hello, replays. */
  private async greet(resumeAfter: number | undefined): Promise<void> {
    if (this.closed) return;

    const { inbox, wssId, region } = this.deps;
    // A reconnect names where it resumes: whether anything follows is asked
    // in the same batched read as the cursor, not in a second one after it.
    if (resumeAfter !== undefined) {
      const next = inbox.hasAfter(this.user, resumeAfter);
      const held =
        resumeAfter > 0 ? inbox.hasAfter(this.user, resumeAfter - 1) : undefined;
      // A failure surfaces when the read uses the answer.
      next.catch(() => undefined);
      held?.catch(() => undefined);
      this.probe = { after: resumeAfter, next, held };
    }
    const acked = await inbox.acked(this.user).catch(() => 0);
    if (this.closed) return;

    this.frame({
      type: "hello",
      user: this.user,
      conn: this.id,
      wss: wssId,
      region,
      acked,
    });
    this.greeted = true;
    this.ackedAtHello = acked;
    let replay: Promise<void> | undefined;
    if (resumeAfter !== undefined) {
      replay = this.begin(resumeAfter);
    } else {
      this.resumeTimer = setTimeout(() => void this.begin(acked), this.deps.resumeWaitMs);
    }
    // A resume among these replays within this set-up.
    const early = this.early;
    this.early = undefined;
    await Promise.all([replay, ...(early ?? []).map((text) => this.handle(text))]);
  }

  /** Starts the cursor; resolves when its first replay from the inbox is done. */
  private begin(after: number): Promise<void> {
    if (this.started || this.closed) return Promise.resolve();
    this.started = true;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    // Below the acknowledged cursor, entries the TTL removed may leave holes
    // (a sequence restarts after the cursor): there only a query is sure.
    const asked = this.probe?.after === after ? this.probe : { after };
    this.probe = after >= this.ackedAtHello ? asked : undefined;
    return this.cursor.start(after);
  }

  /** Refuses a resume point past the last message of the inbox (RESUME_AHEAD, 4009). */
  private resumedAhead(after: number): void {
    const message =
      `resume after ${after} is past the last message of this inbox; ` +
      `resume after hello.acked (${this.ackedAtHello}) or a sequence this inbox sent you`;
    this.error("RESUME_AHEAD", message);
    this.ws.close(ERRORS.RESUME_AHEAD.close, "resume point past the inbox");
  }

  /** Logs a failure of this connection with its fields. */
  private warn(err: unknown, message: string): void {
    this.deps.log.warn({ err, conn: this.id, user: this.user }, message);
  }

  private onResume(after: unknown): Promise<void> | void {
    if (!Number.isSafeInteger(after) || (after as number) < 0) {
      return this.error("BAD_FRAME", "resume.after must be a non-negative integer");
    }
    if (this.started) {
      return this.error(
        "BAD_FRAME",
        "resume is accepted once, before any message; reconnect",
      );
    }
    return this.begin(after as number);
  }

  private onAck(upTo: unknown): void {
    if (!Number.isSafeInteger(upTo) || (upTo as number) < 1) {
      return this.error("BAD_FRAME", "ack.upTo must be a positive integer");
    }
    if ((upTo as number) > this.cursor.lastSent) {
      return this.error(
        "BAD_FRAME",
        `ack.upTo ${upTo} is beyond the last sequence sent (${this.cursor.lastSent})`,
      );
    }
    // Only what this socket was actually sent counts: a client cannot move its
    // acknowledged cursor past the inbox by resuming after a made-up sequence.
    const counted = Math.min(upTo as number, this.cursor.deliveredHere);
    if (counted > 0) this.deps.ack(this.user, counted);
  }

  private async onSend(msg: Record<string, unknown>): Promise<void> {
    const clientMsgId = typeof msg.clientMsgId === "string" ? msg.clientMsgId : undefined;
    if (clientMsgId === undefined) {
      return this.error("BAD_FRAME", "send needs a clientMsgId (unique per message)");
    }
    const wait = this.deps.userSends.take(this.user);
    if (wait > 0) {
      return this.error(
        "RATE_LIMITED",
        `too many sends; retry in ${wait} s`,
        clientMsgId,
      );
    }

    const work = (async () => {
      const req = parseSendRequest(msg, this.deps.regions);
      return this.deps.sendToCs(this.user, req);
    })();
    this.deps.inflight.add(work);
    try {
      const { id } = await work;
      this.frame({ type: "sent", clientMsgId, id });
    } catch (err) {
      const e =
        err instanceof ChatError
          ? err
          : new ChatError("UNAVAILABLE", "send failed; retry");
      if (!(err instanceof ChatError)) this.warn(err, "send failed");
      this.error(e.code, e.message, clientMsgId);
    } finally {
      this.deps.inflight.delete(work);
    }
  }

  private error(code: ErrorCode, message: string, clientMsgId?: string): void {
    this.deps.metrics.rejected.inc({ reason: code });
    this.frame({ type: "error", code, message, ...(clientMsgId ? { clientMsgId } : {}) });
  }

  private frame(obj: { type: string } & Record<string, unknown>): void {
    if (this.write(JSON.stringify(obj)))
      this.deps.metrics.framesOut.inc({ type: obj.type });
  }

  private writeMsg(frame: string, replayed: boolean): boolean {
    const ok = this.write(frame);
    const m = this.deps.metrics;
    m.msgFramesOut.inc();
    if (replayed) {
      m.redelivered.inc();
    } else {
      // msgFrame() puts sentAt last: read it from the end, without a regex.
      const at = frame.lastIndexOf(SENT_AT);
      const sentAt = at < 0 ? NaN : parseInt(frame.slice(at + SENT_AT.length), 10);
      if (sentAt > 0) m.delivery.observe(Math.max(0, Date.now() - sentAt) / 1000);
    }
    return ok;
  }

  /**
   * Writes a frame; past the buffer cap the socket gets no more live frames
   * until it drains (then it catches up from the inbox), and is closed with
   * 1013 if it stays past the cap too long.
   */
  private write(frame: string): boolean {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.send(frame);
    if (this.ws.bufferedAmount <= this.deps.maxBufferedBytes) return true;
    if (this.drainTimer) return false;

    this.deps.log.debug(
      { conn: this.id, user: this.user, buffered: this.ws.bufferedAmount },
      "slow consumer; pausing live delivery",
    );
    this.deps.metrics.slowConsumers.inc({ action: "paused" });
    this.stalledSince = Date.now();
    this.drainTimer = setInterval(() => this.checkDrained(), 50);
    return false;
  }

  private checkDrained(): void {
    if (this.ws.bufferedAmount > this.deps.maxBufferedBytes / 4) {
      if (Date.now() - this.stalledSince < this.deps.slowCloseMs) return;
      clearInterval(this.drainTimer);
      this.deps.metrics.slowConsumers.inc({ action: "closed" });
      this.ws.close(1013, "too slow to read; reconnect and resume");
      // The close frame waits behind what the peer is not reading.
      setTimeout(() => this.ws.terminate(), 1000).unref();
      return;
    }
    clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    this.cursor.resume();
  }
}
