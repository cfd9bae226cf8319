// Presence in a region's ZooKeeper: one ephemeral node per connection, named
// `<userId>~<wssId>~<connId>` under one of a fixed number of bucket nodes. It
// says who is connected where, for operators and drills; delivery does not
// read it (a chat server publishes every stored message, docs/delivery.md), so
// a connect or disconnect costs one write and no reader re-lists a bucket.
import { EventEmitter } from "node:events";

import type { Logger } from "./logger.ts";
import { userTopic } from "./ids.ts";
import { ZK, ZkError, type ZkSession } from "./zk.ts";

export const PRESENCE_ROOT = "/chat/presence";
export const BUCKETS = 16;

/** What a WSS records for one connection. */
export interface Connection {
  readonly user: string;
  readonly wss: string;
  readonly conn: string;
  readonly region: string;
  readonly at: number;
}

export function bucketOf(userId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `b${pad(h % BUCKETS)}`;
}

export function presencePath(c: Pick<Connection, "user" | "wss" | "conn">): string {
  return `${PRESENCE_ROOT}/${bucketOf(c.user)}/${c.user}~${c.wss}~${c.conn}`;
}

/**
 * Creates the root and bucket nodes (idempotent). With a digest credential
 * (`user:password`) the tree is restricted to it: without it nobody can list,
 * create or delete presence nodes.
 */
export async function ensurePresenceTree(zk: ZkSession, digest?: string): Promise<void> {
  const buckets = Array.from(
    { length: BUCKETS },
    (_, i) => `${PRESENCE_ROOT}/b${pad(i)}`,
  );
  for (const path of buckets) await zk.mkdirp(path);
  if (!digest) return;

  for (const path of ["/chat", PRESENCE_ROOT, ...buckets])
    await zk.restrictTo(path, digest);
}

/** Every presence node name (`user~wss~conn`) of a region: one listing per bucket. */
export async function listPresence(zk: ZkSession): Promise<string[]> {
  const buckets = Array.from(
    { length: BUCKETS },
    (_, i) => `${PRESENCE_ROOT}/b${pad(i)}`,
  );
  const lists = await Promise.all(
    buckets.map((b) => zk.watchChildren(b, () => undefined)),
  );
  return lists.flat();
}

function pad(i: number): string {
  return String(i).padStart(2, "0");
}

/**
 * The WSS side: registers each connection as an ephemeral node and, when the
 * session expires, registers every still-open connection again under the new
 * session. Emits `error` (err, connection) when a registration fails.
 */
export class PresenceRegistrar extends EventEmitter {
  private readonly live = new Map<string, Connection>();

  constructor(
    private readonly zk: ZkSession,
    private readonly log: Logger,
    private readonly digest?: string,
  ) {
    super();
    zk.on("session", (id: string, previous: string | undefined) => {
      if (previous !== undefined) void this.reregisterAll(previous, id);
    });
  }

  get size(): number {
    return this.live.size;
  }

  async register(c: Connection): Promise<void> {
    const path = presencePath(c);
    this.live.set(path, c);
    await this.createNode(path, c, undefined);
  }

  async unregister(c: Pick<Connection, "user" | "wss" | "conn">): Promise<void> {
    const path = presencePath(c);
    if (!this.live.delete(path)) return;
    try {
      await this.zk.delete(path);
    } catch (err) {
      // Gone already (session expired or never created): nothing to undo.
      if (!(err instanceof ZkError)) throw err;
    }
  }

  private async reregisterAll(previous: string, current: string): Promise<void> {
    this.log.warn(
      { previousSession: previous, session: current, connections: this.live.size },
      "zookeeper session replaced; registering connections again",
    );
    await ensurePresenceTree(this.zk, this.digest).catch(() => undefined);
    await Promise.all(
      [...this.live].map(([path, c]) => this.createNode(path, c, previous)),
    );
  }

  /**
   * Creates the node; when one exists at the path it is replaced only if it
   * belongs to `staleSession`, this WSS's own expired session.
   */
  private async createNode(
    path: string,
    c: Connection,
    staleSession: string | undefined,
  ): Promise<void> {
    const data = JSON.stringify({ ...c, topic: userTopic(c.user) });
    try {
      await this.zk.create(path, data, ZK.EPHEMERAL);
      // The client library creates nodes world-readable: narrow it at once
      // (unless the connection closed meanwhile and the node is being removed).
      if (this.digest && this.live.get(path) === c) {
        this.zk
          .restrictTo(path, this.digest)
          .catch((err: unknown) => this.emit("error", err, c));
      }
    } catch (err) {
      if (!(err instanceof ZkError) || err.code !== ZK.NODEEXISTS) {
        this.emit("error", err, c);
        return;
      }
      const stat = await this.zk.exists(path);
      if (stat && staleSession !== undefined && stat.ephemeralOwner === staleSession) {
        await this.zk.delete(path, stat.version).catch(() => undefined);
        if (this.live.get(path) === c) await this.createNode(path, c, undefined);
      }
    }
  }
}
