// A ZooKeeper session that survives its own expiry. It wraps the native
// `zookeeper` client, whose handle must never be used after close (that can
// abort the process): every call is refused once the handle is gone, and an
// expired session is replaced by a new handle, announced with `session`.
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";

import ZooKeeper from "zookeeper";

export interface ZkSessionOptions {
  /** `host:port[,host:port...]` of the ensemble. */
  readonly connect: string;
  /** Session timeout asked of the server. @default 6000 */
  readonly sessionTimeoutMs?: number;
  /** Digest credentials (`user:password`) added to every session. */
  readonly digest?: string;
}

export interface ZkStat {
  readonly version: number;
  readonly ephemeralOwner: string;
}

/** A ZooKeeper result code turned into an error; `code` is the native rc. */
export class ZkError extends Error {
  constructor(
    readonly code: number,
    readonly op: string,
    readonly path: string,
    text: string,
  ) {
    super(`zookeeper ${op} ${path}: ${text} (${code})`);
    this.name = "ZkError";
  }
}

export const ZK = Object.freeze({
  OK: 0,
  NONODE: ZooKeeper.ZNONODE as number,
  NODEEXISTS: ZooKeeper.ZNODEEXISTS as number,
  NOTEMPTY: ZooKeeper.ZNOTEMPTY as number,
  EPHEMERAL: ZooKeeper.ZOO_EPHEMERAL as number,
  PERSISTENT: 0,
  CHILD_EVENT: ZooKeeper.ZOO_CHILD_EVENT as number,
  SESSION_EVENT: ZooKeeper.ZOO_SESSION_EVENT as number,
});

const DEFAULTS = Object.freeze({ sessionTimeoutMs: 6000 });

type Handle = InstanceType<typeof ZooKeeper>;

/**
 * The binding under the client's wrapper. The wrapper formats every call's
 * arguments with `util.inspect` for a debug log, logger or not: for the
 * presence node's create and ACL, about a third of the client's CPU per
 * connect. The calls made per connection go to the binding directly.
 */
interface Binding {
  a_create(path: string, data: string, flags: number, cb: unknown): unknown;
  a_set_acl(path: string, version: number, acl: BindingAcl[], cb: unknown): unknown;
  a_delete_(path: string, version: number, cb: unknown): unknown;
}

/** An ACL entry as the binding takes it (the wrapper's `perms` is `perm` here). */
interface BindingAcl {
  readonly perm: number;
  readonly scheme: string;
  readonly auth: string;
}

function binding(h: Handle): Binding {
  return (h as { native: Binding }).native;
}
type Watcher = (type: number, state: number, path: string) => void;

/**
 * Events: `session` (sessionId, previousSessionId | undefined) each time a
 * session is established, `expired` (sessionId) when one is lost for good,
 * `disconnected` and `reconnected` while a session lives on across servers.
 */
export class ZkSession extends EventEmitter {
  private handle: Handle | undefined;
  private currentId: string | undefined;
  private connected = false;
  private closed = false;
  private readonly timeoutMs: number;

  constructor(private readonly options: ZkSessionOptions) {
    super();
    this.timeoutMs = options.sessionTimeoutMs ?? DEFAULTS.sessionTimeoutMs;
  }

  /** Opens the first session; resolves once it is connected. */
  async start(): Promise<void> {
    this.open(undefined);
    if (this.connected) return;
    await new Promise<void>((resolve) => this.once("session", () => resolve()));
  }

  get sessionId(): string | undefined {
    return this.currentId;
  }

  get isConnected(): boolean {
    return this.connected && !this.closed;
  }

  async create(path: string, data: string, flags: number): Promise<string> {
    return this.call<string>("create", path, (h, cb) =>
      binding(h).a_create(path, data, flags, cb),
    );
  }

  /** Creates every missing node of `path` as a persistent, empty node. */
  async mkdirp(path: string): Promise<void> {
    let at = "";
    for (const part of path.split("/").filter(Boolean)) {
      at += `/${part}`;
      try {
        await this.create(at, "", ZK.PERSISTENT);
      } catch (err) {
        if (!(err instanceof ZkError && err.code === ZK.NODEEXISTS)) throw err;
      }
    }
  }

  async exists(path: string): Promise<ZkStat | undefined> {
    try {
      return await this.call<ZkStat>("exists", path, (h, cb) =>
        h.a_exists(path, false, cb as never),
      );
    } catch (err) {
      if (err instanceof ZkError && err.code === ZK.NONODE) return undefined;
      throw err;
    }
  }

  async get(path: string): Promise<string> {
    return this.call<string>("get", path, (h, cb) =>
      h.a_get(path, false, ((rc: number, text: unknown, _stat: unknown, data: unknown) =>
        cb(rc, text, data === null || data === undefined ? "" : String(data))) as never),
    );
  }

  async delete(path: string, version = -1): Promise<void> {
    await this.call<void>("delete", path, (h, cb) =>
      binding(h).a_delete_(path, version, cb),
    );
  }

  /** Replaces a node's ACL with full rights for one digest identity only. */
  async restrictTo(path: string, digest: string): Promise<void> {
    const acl = [
      {
        perm: ZooKeeper.ZOO_PERM_ALL as number,
        scheme: "digest",
        auth: digestId(digest),
      },
    ];
    await this.call<void>("setAcl", path, (h, cb) =>
      binding(h).a_set_acl(path, -1, acl, cb),
    );
  }

  /** Lists children and sets a one-shot watch that calls `watcher` on the next change. */
  async watchChildren(path: string, watcher: Watcher): Promise<string[]> {
    return this.call<string[]>("getChildren", path, (h, cb) =>
      h.aw_get_children(path, watcher as never, cb as never),
    );
  }

  /** Closes the session; its ephemeral nodes go at once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    const h = this.handle;
    this.handle = undefined;
    h?.removeAllListeners();
    h?.close();
  }

  private open(previous: string | undefined): void {
    if (this.closed) return;

    const h = new ZooKeeper({
      connect: this.options.connect,
      timeout: this.timeoutMs,
      debug_level: ZooKeeper.ZOO_LOG_LEVEL_ERROR,
      host_order_deterministic: false,
    });
    this.handle = h;
    let everConnected = false;

    h.on("connect", () => {
      if (this.handle !== h) return;
      this.connected = true;
      if (everConnected) {
        this.emit("reconnected");
        return;
      }
      everConnected = true;
      this.currentId = String(h.client_id);
      this.emit("session", this.currentId, previous);
    });
    h.on("connecting", () => {
      if (this.handle !== h || !this.connected) return;
      this.connected = false;
      this.emit("disconnected");
    });
    h.on("close", () => {
      if (this.handle !== h || this.closed) return;
      // The native client closes its handle when the session expires.
      const lost = this.currentId;
      this.connected = false;
      this.handle = undefined;
      h.removeAllListeners();
      this.emit("expired", lost);
      setImmediate(() => this.open(lost));
    });
    h.init({});
    // Queued before the first request; the client sends it again on every reconnect.
    if (this.options.digest) h.add_auth("digest", this.options.digest, () => undefined);
  }

  private call<T>(
    op: string,
    path: string,
    run: (h: Handle, cb: (rc: number, text: unknown, value: T) => void) => void,
  ): Promise<T> {
    const h = this.handle;
    if (!h || this.closed) {
      return Promise.reject(new ZkError(-112, op, path, "session is not open"));
    }
    return new Promise<T>((resolve, reject) => {
      run(h, (rc, text, value) => {
        if (rc === ZK.OK) resolve(value);
        else reject(new ZkError(rc, op, path, String(text)));
      });
    });
  }
}

/** The ACL id of a `user:password` digest credential: `user:base64(sha1(user:password))`. */
export function digestId(credential: string): string {
  const user = credential.slice(0, credential.indexOf(":"));
  const hash = createHash("sha1").update(credential).digest("base64");
  return `${user}:${hash}`;
}
