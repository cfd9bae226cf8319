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
import { Cursor } from "./cursor.ts";
import type { Hub, Member } from "./hub.ts";

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
  /** After going live, read the inbox once more this much later. */
  readonly settleMs: number;
  /** Counts sends in flight to the chat server, so a drain can wait for them. */
  readonly inflight: Set<Promise<unknown>>;
}

const SENT_AT = '"sentAt":';

export class Connection implements Member {
  readonly id = randomBytes(6).toString("hex");
  readonly connectedAt = Date.now();
  private readonly cursor: Cursor;
  private childLog: Logger | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private stalledSince = 0;
  private joined: Promise<void> | undefined;
  private started = false;
  private closed = false;
  private greet: () => void = () => undefined;
  /** Settles once hello is sent (or the connection closed before it). */
  private readonly greeted = new Promise<void>((resolve) => (this.greet = resolve));
  alive = true;

  constructor(
    private readonly ws: WebSocket,
    readonly user: string,
    private readonly deps: ConnectionDeps,
  ) {
    this.cursor = new Cursor({
      read: async (after, limit) =>
        (await deps.inbox.read(user, after, limit)).map((e) => ({
          seq: e.seq,
          frame: msgFrame(e),
        })),
      send: (frame, replayed) => this.writeMsg(frame, replayed),
      onError: (err) => this.log.warn({ err }, "inbox read failed; retrying"),
    });
  }

  /** This connection's logger, made on first use: most connections never log. */
  private get log(): Logger {
    this.childLog ??= this.deps.log.child({ conn: this.id, user: this.user });
    return this.childLog;
  }

  /** Subscribes, registers presence and greets the client. */
  async open(resumeAfter: number | undefined): Promise<void> {
    const { hub, presence, inbox, wssId, region } = this.deps;
    this.joined = hub.join(this.user, this);
    await this.joined;
    if (this.closed) return;

    await presence
      .register({
        user: this.user,
        wss: wssId,
        conn: this.id,
        region,
        at: this.connectedAt,
      })
      .catch((err: unknown) => this.log.warn({ err }, "presence registration failed"));
    // TODO(#7): with the resume read and the settle re-read this makes three
    // inbox reads per connect, which is what slows a reconnect storm (about
    // 10x the bare gateway) and leaves most of the ~25 KiB RSS per connection;
    // batch the acked reads across connects, and drop the settle re-read.
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
    this.greet();
    if (resumeAfter !== undefined) {
      this.begin(resumeAfter);
    } else {
      this.resumeTimer = setTimeout(() => this.begin(acked), this.deps.resumeWaitMs);
    }
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
    // Frames that arrive before the greeting wait for it: hello is always first.
    await this.greeted;
    if (this.closed) return;

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
    this.cursor.live(seq, frame);
  }

  catchUp(): void {
    void this.cursor.catchUp();
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
    this.greet();
    clearTimeout(this.resumeTimer);
    clearInterval(this.drainTimer);
    clearTimeout(this.settleTimer);
    this.cursor.close();
    this.deps.connFrames.forget(this.id);
    await this.joined?.catch(() => undefined);
    this.deps.hub.leave(this.user, this);
    await this.deps.presence
      .unregister({ user: this.user, wss: this.deps.wssId, conn: this.id })
      .catch((err: unknown) => this.log.warn({ err }, "presence removal failed"));
  }

  private begin(after: number): void {
    if (this.started || this.closed) return;
    this.started = true;
    clearTimeout(this.resumeTimer);
    void this.cursor.start(after).then(() => {
      // A message stored while this connection's presence was still reaching
      // the chat server may not have been published: look once more.
      this.settleTimer = setTimeout(() => this.catchUp(), this.deps.settleMs);
    });
  }

  private onResume(after: unknown): void {
    if (!Number.isSafeInteger(after) || (after as number) < 0) {
      return this.error("BAD_FRAME", "resume.after must be a non-negative integer");
    }
    if (this.started) {
      return this.error(
        "BAD_FRAME",
        "resume is accepted once, before any message; reconnect",
      );
    }
    this.begin(after as number);
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
      if (!(err instanceof ChatError)) this.log.warn({ err }, "send failed");
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

    this.log.debug(
      { buffered: this.ws.bufferedAmount },
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
