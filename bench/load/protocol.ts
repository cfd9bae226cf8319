// What the benchmark process and its load generator say to each other over
// the IPC channel: commands with their arguments and results.

/** How a client talks to its server: our protocol, the bare gateway, Socket.IO. */
export type Proto = "chat" | "gateway" | "socketio";

export interface ClientSpec {
  readonly user: string;
  /** Server URLs in the order the client tries them (the first is its home). */
  readonly urls: readonly string[];
  /** Bearer token (our protocol only). */
  readonly token?: string;
}

export interface ConnectArgs {
  readonly proto: Proto;
  readonly clients: readonly ClientSpec[];
  /** Connections being opened at once. */
  readonly concurrency: number;
  /** Our protocol: cumulative acknowledgement interval; 0 sends none. */
  readonly ackEveryMs: number;
  /** Reconnect after a drop, alternating URLs, with backoff and jitter. */
  readonly reconnect: boolean;
  readonly timeoutMs: number;
}

export interface ConnectResult {
  readonly connected: number;
  readonly failed: number;
  readonly ms: number;
  readonly firstError?: string;
}

/** Where messages are sent: a Redis topic per user, or the chat server's HTTP API. */
export type SenderArgs =
  | {
      readonly kind: "redis";
      readonly url: string;
      readonly password: string;
      /** `plain`: PUBLISH the frame on `u:<user>`; `socketio`: emit to room `u:<user>`. */
      readonly via: "plain" | "socketio";
    }
  | {
      readonly kind: "http";
      /** Chat server base URL. */
      readonly cs: string;
      /** Sender tokens, used in turn. */
      readonly tokens: readonly string[];
      /** Requests outstanding at most (keep-alive connections). */
      readonly maxInFlight: number;
      /**
       * Send every message to this group instead of to one user: each send is
       * one copy for every connected client (all of them members).
       */
      readonly group?: string;
    };

export interface StepArgs {
  /** Offered rate, messages per second, spread round-robin over every user. */
  readonly rate: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Longest wait for stragglers after the last send. */
  readonly drainMs: number;
}

export interface Latency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
  readonly count: number;
}

export interface StepResult {
  readonly offered: number;
  /** Messages sent per second during the measured window. */
  readonly sentPerSec: number;
  /** Sends made in the whole step (requests or publishes; a group send is one). */
  readonly sends: number;
  /** Messages received per second during the measured window. */
  readonly deliveredPerSec: number;
  /** Copies sent in the step (a group send counts once per member). */
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  /** Copies whose send the server refused or that failed (HTTP). */
  readonly errors: number;
  /** How far behind schedule the sender fell at worst, ms. */
  readonly maxLagMs: number;
  /** Latency in ms from the scheduled send time to receipt (measured window only). */
  readonly latencyMs: Latency;
  /** Everything offered was sent on time, all of it arrived, nothing failed. */
  readonly keptUp: boolean;
  /** Share of one core the load generator used during the step. */
  readonly loadgenCpu: number;
  /** p99 of the load generator's event-loop delay during the step, ms. */
  readonly loadgenLoopDelayP99Ms: number;
  /** /proc/pressure/cpu `some avg10` at the end of the step, percent. */
  readonly cpuPressure?: number;
}

export interface StormBeginArgs {
  /** Background messages per second over all users. */
  readonly rate: number;
}

export interface StormAfterKillArgs {
  /** When the server was killed, µs since the epoch. */
  readonly killedAtUs: number;
  readonly timeoutMs: number;
}

export interface StormRecovery {
  /** Clients that were on the killed server. */
  readonly affected: number;
  /**
   * Background messages due but not yet sent at the kill, plus those sent and
   * not yet answered: near 0 when the system kept up with the background
   * rate before the kill (else the storm is measured on top of a backlog).
   */
  readonly backgroundBacklogAtKill: number;
  /** Of those, clients that did not receive again before the timeout. */
  readonly notRecovered: number;
  /** Kill to connected again (hello), ms: p50, p99, max. */
  readonly reconnectMs: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
  };
  /** Connection attempt to hello, for the attempt that succeeded, ms. */
  readonly setupMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Kill to first message received on the new connection, ms. */
  readonly receiveMs: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
  };
  /** Connection attempts the affected clients made (the first connect excluded). */
  readonly attempts: number;
}

export interface StormEnd {
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly lostAffected: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly errors: number;
}

export interface Commands {
  connect: [ConnectArgs, ConnectResult];
  sender: [SenderArgs, null];
  step: [StepArgs, StepResult];
  /** Our protocol: reconnect every client to resume after what was sent to it. */
  resync: [Record<string, never>, ConnectResult];
  /** Marks the clients connected to `url` as the ones a kill will affect. */
  stormSnapshot: [{ readonly url: string }, { readonly affected: number }];
  stormBegin: [StormBeginArgs, null];
  stormAfterKill: [StormAfterKillArgs, StormRecovery];
  stormEnd: [{ readonly drainMs: number }, StormEnd];
  closeAll: [Record<string, never>, null];
}

export type CommandName = keyof Commands;

export interface Request<K extends CommandName = CommandName> {
  readonly id: number;
  readonly cmd: K;
  readonly args: Commands[K][0];
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** The body of every benchmark message: `@<scheduled µs>,<n>;` padded to 1 KiB. */
export const BODY_CHARS = 1024;
const PADDING = "x".repeat(BODY_CHARS);

export function messageBody(scheduledUs: number, n: number): string {
  const head = `@${scheduledUs},${n};`;
  return head + PADDING.slice(head.length);
}

/** Reads `@<µs>,<n>;` out of any encoding of a frame (the body's only `@`). */
export function parseMarker(text: string): { t: number; n: number } | undefined {
  const at = text.indexOf("@");
  if (at < 0) return undefined;
  const comma = text.indexOf(",", at);
  const semi = text.indexOf(";", comma);
  if (comma < 0 || semi < 0) return undefined;
  return { t: Number(text.slice(at + 1, comma)), n: Number(text.slice(comma + 1, semi)) };
}

/** Wall-clock time in µs since the epoch, sub-millisecond, comparable across processes. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
