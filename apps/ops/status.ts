// chatctl status: per region of the running local system, is Redis reachable and
// in which role, has ZooKeeper a quorum and what is each node's mode, how many WSSs
// answer and with how many connections, is the chat server up and what is its inbox
// backlog. Every probe has a short timeout, so a hung component cannot hang this.
import { Redis } from "ioredis";

import type { LocalStatus, RegionEndpoints } from "../local/runtime.ts";
import { loadOrCreateSecrets, type LocalSecrets } from "../local/secrets.ts";
import { zkFourLetter } from "../local/services.ts";
import { withDefaults } from "../shared/options.ts";
import { parse, readState } from "./cli.ts";
import { SECRETS_FILE } from "./paths.ts";

export interface StatusOptions {
  /** Longest wait for any one probe, ms. @default 1500 */
  readonly timeoutMs?: number;
}

const DEFAULTS = Object.freeze({ timeoutMs: 1500 });

export interface RedisStatus {
  readonly url: string;
  readonly up: boolean;
  /** `master` or `slave` (Redis's words), from INFO replication. */
  readonly role: string | null;
  readonly connectedReplicas: number | null;
  readonly error?: string;
}

export interface ZkNodeStatus {
  readonly address: string;
  readonly up: boolean;
  /** `leader`, `follower`, `standalone`, `observer`, or null when it does not serve. */
  readonly mode: string | null;
  readonly error?: string;
}

export interface ZkStatus {
  readonly connect: string;
  /** True when a majority of the nodes serve, one of them the leader (or standalone). */
  readonly quorum: boolean;
  readonly nodes: readonly ZkNodeStatus[];
}

export interface HttpStatus {
  readonly url: string;
  readonly up: boolean;
  readonly error?: string;
}

export interface WssStatus extends HttpStatus {
  /** Open WebSocket connections, from /readyz. */
  readonly connections: number | null;
}

export interface CsStatus extends HttpStatus {
  /** Sum of chat_inbox_backlog_messages from /metrics. */
  readonly inboxBacklog: number | null;
}

export interface RegionStatus {
  readonly region: string;
  readonly ok: boolean;
  readonly redis: RedisStatus;
  readonly zookeeper: ZkStatus;
  readonly wss: readonly WssStatus[];
  readonly cs: CsStatus;
}

export interface SystemStatus {
  /** True when every component of every region is up. */
  readonly ok: boolean;
  readonly regions: readonly RegionStatus[];
}

/** `chatctl status [--json]`: exit 0 when everything is up, else 1. */
export async function statusCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: "boolean" } }, 0);
  const state = readState();
  const secrets = loadOrCreateSecrets(SECRETS_FILE);
  const status = await collectStatus(state, secrets);
  process.stdout.write(
    values.json ? JSON.stringify(status, null, 2) + "\n" : formatStatus(status),
  );
  return status.ok ? 0 : 1;
}

/** Probes every region of `state` at once; never rejects, never waits past the timeout. */
export async function collectStatus(
  state: Pick<LocalStatus, "regions">,
  secrets: Pick<LocalSecrets, "redisPassword">,
  options?: StatusOptions,
): Promise<SystemStatus> {
  const o = withDefaults(DEFAULTS, options);
  const regions = await Promise.all(
    Object.entries(state.regions).map(([id, r]) =>
      regionStatus(id, r, secrets.redisPassword, o.timeoutMs),
    ),
  );
  return { ok: regions.every((r) => r.ok), regions };
}

/** The status as a table, one line per component, and a last line saying what is down. */
export function formatStatus(s: SystemStatus): string {
  const rows: string[][] = [["region", "component", "endpoint", "state", "detail"]];
  const state = (up: boolean) => (up ? "up" : "DOWN");
  for (const r of s.regions) {
    const redisDetail = r.redis.up
      ? `role ${r.redis.role ?? "?"}, ${r.redis.connectedReplicas ?? "?"} replica(s)`
      : (r.redis.error ?? "");
    rows.push([r.region, "redis", r.redis.url, state(r.redis.up), redisDetail]);

    const serving = r.zookeeper.nodes.filter((n) => n.mode !== null).length;
    rows.push([
      r.region,
      "zookeeper",
      r.zookeeper.connect,
      r.zookeeper.quorum ? "quorum" : "NO QUORUM",
      `${serving} of ${r.zookeeper.nodes.length} node(s) serving`,
    ]);
    for (const n of r.zookeeper.nodes) {
      const detail = n.mode ?? n.error ?? "not serving";
      rows.push([r.region, "  zk node", n.address, state(n.up), detail]);
    }

    const ready = r.wss.filter((w) => w.up).length;
    const total = r.wss.reduce((sum, w) => sum + (w.connections ?? 0), 0);
    rows.push([
      r.region,
      "wss",
      `${r.wss.length} server(s)`,
      `${ready} up`,
      `${total} connection(s)`,
    ]);
    for (const w of r.wss) {
      const detail = w.up ? `${w.connections ?? "?"} connection(s)` : (w.error ?? "");
      rows.push([r.region, "  wss", w.url, state(w.up), detail]);
    }

    const backlog = `inbox backlog ${r.cs.inboxBacklog ?? "?"}`;
    rows.push([
      r.region,
      "chat server",
      r.cs.url,
      state(r.cs.up),
      r.cs.up ? backlog : (r.cs.error ?? ""),
    ]);
  }

  const down = s.regions.flatMap((r) => downParts(r).map((p) => `${r.region} ${p}`));
  const summary = s.ok ? "all up" : `DOWN: ${down.join(", ")}`;
  return table(rows) + summary + "\n";
}

async function regionStatus(
  region: string,
  r: RegionEndpoints,
  redisPassword: string,
  timeoutMs: number,
): Promise<RegionStatus> {
  const [redis, zookeeper, wss, cs] = await Promise.all([
    redisStatus(r.redis, redisPassword, timeoutMs),
    zkStatus(r.zookeeper, timeoutMs),
    Promise.all(r.wss.map((url) => wssStatus(url, timeoutMs))),
    csStatus(r.cs, timeoutMs),
  ]);
  const status = { region, ok: true, redis, zookeeper, wss, cs };
  return { ...status, ok: downParts(status).length === 0 };
}

function downParts(r: RegionStatus): string[] {
  const parts: string[] = [];
  if (!r.redis.up) parts.push("redis");
  if (!r.zookeeper.quorum) parts.push("zookeeper quorum");
  for (const n of r.zookeeper.nodes) if (!n.up) parts.push(`zookeeper ${n.address}`);
  if (r.wss.length === 0) parts.push("wss (none listed)");
  for (const w of r.wss) if (!w.up) parts.push(`wss ${w.url}`);
  if (!r.cs.up) parts.push("chat server");
  return parts;
}

async function redisStatus(
  url: string,
  password: string,
  timeoutMs: number,
): Promise<RedisStatus> {
  const redis = new Redis(url, {
    password,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis rejects with "Connection is closed"; the socket's own error says why.
  let socketError: unknown;
  redis.on("error", (err) => (socketError ??= err));
  try {
    await withTimeout(redis.connect(), timeoutMs, "connect");
    const info = await withTimeout(redis.info("replication"), timeoutMs, "INFO");
    const field = (name: string) => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1];
    const replicas = field("connected_slaves");
    return {
      url,
      up: true,
      role: field("role") ?? null,
      connectedReplicas: replicas === undefined ? null : Number(replicas),
    };
  } catch (err) {
    const error = reason(socketError ?? err);
    return { url, up: false, role: null, connectedReplicas: null, error };
  } finally {
    redis.disconnect();
  }
}

async function zkStatus(connect: string, timeoutMs: number): Promise<ZkStatus> {
  const addresses = connect
    .replace(/\/.*$/, "")
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  const nodes = await Promise.all(addresses.map((a) => zkNodeStatus(a, timeoutMs)));
  const serving = nodes.filter((n) => n.mode !== null);
  const led = serving.some((n) => n.mode === "leader" || n.mode === "standalone");
  const quorum = led && serving.length * 2 > nodes.length;
  return { connect, quorum, nodes };
}

async function zkNodeStatus(address: string, timeoutMs: number): Promise<ZkNodeStatus> {
  const m = /^(.*):(\d+)$/.exec(address);
  const host = m?.[1];
  const port = Number(m?.[2]);
  // zkFourLetter speaks to loopback only, which is where local mode runs ZooKeeper.
  if (!m || !["127.0.0.1", "localhost"].includes(host!)) {
    return { address, up: false, mode: null, error: "not a local (127.0.0.1) address" };
  }
  try {
    const answer = await zkFourLetter(port, "srvr", timeoutMs);
    const mode = /^Mode: (\S+)/m.exec(answer)?.[1] ?? null;
    if (answer === "") return { address, up: false, mode: null, error: "no answer" };
    if (mode) return { address, up: true, mode };
    // A node without a quorum answers "... not currently serving requests": up, no mode.
    const said = answer.split("\n")[0]!.trim().slice(0, 80);
    return { address, up: true, mode: null, error: said || "not serving" };
  } catch (err) {
    return { address, up: false, mode: null, error: reason(err) };
  }
}

async function wssStatus(wsUrl: string, timeoutMs: number): Promise<WssStatus> {
  const base = wsUrl.replace(/^ws/, "http").replace(/\/v1\/ws$/, "");
  try {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({}))) as { connections?: unknown };
    const connections = typeof body.connections === "number" ? body.connections : null;
    const up = res.status === 200;
    return {
      url: wsUrl,
      up,
      connections,
      ...(up ? {} : { error: `readyz ${res.status}` }),
    };
  } catch (err) {
    return { url: wsUrl, up: false, connections: null, error: reason(err) };
  }
}

async function csStatus(url: string, timeoutMs: number): Promise<CsStatus> {
  const get = (path: string) =>
    fetch(`${url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  try {
    const [ready, metrics] = await Promise.all([
      get("/readyz"),
      get("/metrics")
        .then((r) => (r.ok ? r.text() : null))
        .catch(() => null),
    ]);
    await ready.body?.cancel();
    const up = ready.status === 200;
    const inboxBacklog =
      metrics === null ? null : sumMetric(metrics, "chat_inbox_backlog_messages");
    return { url, up, inboxBacklog, ...(up ? {} : { error: `readyz ${ready.status}` }) };
  } catch (err) {
    return { url, up: false, inboxBacklog: null, error: reason(err) };
  }
}

/** Sum of every sample of a metric in Prometheus text, or null when it has none. */
function sumMetric(text: string, name: string): number | null {
  let sum: number | null = null;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || !/^[{ ]/.test(line.slice(name.length))) continue;
    const value = Number(line.trim().split(/\s+/).at(-1));
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function reason(err: unknown): string {
  const e = err as Error & { code?: string; cause?: { code?: string } };
  if (e.name === "TimeoutError") return "timed out";
  return e.cause?.code ?? e.code ?? e.message;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map(
      (r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd() + "\n",
    )
    .join("");
}
