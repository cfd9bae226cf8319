// The shapes of the console's JSON and server-sent events, shared by the server
// (apps/console/*.ts) and the page (apps/console/web/). Types only: the page's
// bundle must not pull in any Node.js module.
import type { DrillReport } from "../ops/drills/report.ts";

export type { DrillReport };

export interface RedisView {
  readonly url: string;
  readonly up: boolean;
  /** `master` or `slave`, as Redis says. */
  readonly role: string | null;
  readonly replicas: number | null;
  readonly error?: string;
}

export interface ZkNodeView {
  readonly address: string;
  readonly up: boolean;
  /** `standalone`, `leader`, `follower`, or null when the node does not serve. */
  readonly mode: string | null;
}

export interface WssView {
  /** The local process name, e.g. `usa-wss-1`. */
  readonly name: string;
  readonly url: string;
  readonly up: boolean;
  readonly connections: number | null;
  /** `msg` frames written to sockets per second, over the last poll. */
  readonly deliveredPerS: number | null;
  readonly error?: string;
}

export interface CsView {
  readonly name: string;
  readonly url: string;
  readonly up: boolean;
  /** Messages stored in this region's inboxes per second (route `local`). */
  readonly storedPerS: number | null;
  /** Sends handed to another region's chat server per second (route `forwarded`). */
  readonly forwardedPerS: number | null;
  readonly inboxBacklog: number | null;
  readonly error?: string;
}

export interface RegionView {
  readonly region: string;
  /** Every component up and ZooKeeper has a quorum. */
  readonly ok: boolean;
  readonly redis: RedisView;
  readonly zookeeper: { readonly quorum: boolean; readonly nodes: readonly ZkNodeView[] };
  readonly wss: readonly WssView[];
  readonly cs: CsView;
}

export interface SystemView {
  /** Epoch ms of the probe. */
  readonly at: number;
  readonly regions: readonly RegionView[];
}

export interface ScenarioView {
  readonly scenario: string;
  /** Per region id: why the scenario cannot run there on this system. */
  readonly unavailable: Readonly<Record<string, string>>;
}

export type DrillStatus = "running" | "passed" | "failed" | "error";

export interface DrillView {
  readonly id: number;
  readonly scenario: string;
  readonly region: string;
  readonly startedAt: number;
  readonly status: DrillStatus;
  /** Progress lines, in order. */
  readonly lines: readonly string[];
  readonly report?: DrillReport;
  /** The report as `chatctl drill` prints it. */
  readonly reportText?: string;
  /** Why the drill could not finish (status `error`). */
  readonly error?: string;
}

/** GET /api/state, and the first events of GET /api/events. */
export interface ConsoleState {
  readonly regions: readonly string[];
  /** How group messages reach the WSSs: "per-user" or "per-group". */
  readonly fanout: string;
  readonly scenarios: readonly ScenarioView[];
  readonly system: SystemView | null;
  readonly drill: DrillView | null;
}

/** POST /api/token `{user}`: a token for `user` and the WSS URLs to try in order. */
export interface TokenAnswer {
  readonly user: string;
  readonly region: string;
  readonly token: string;
  /** The home region's WSSs first, then every other region's (used in failover). */
  readonly wss: readonly string[];
}

/** Every error answer: the same shape as the apps' (docs/protocol.md). */
export interface ErrorAnswer {
  readonly error: { readonly code: string; readonly message: string };
}
