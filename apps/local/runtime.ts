// Local mode: every region of regions/ on this machine, each with its own
// redis-server (optionally with a replica behind a movable endpoint),
// ZooKeeper (standalone or a 3-node ensemble), chat server and WSSs, plus one
// DynamoDB-compatible server standing in for the global inbox table. Used by
// `chatctl local up`, the tests and the drills.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Redis } from "ioredis";

import {
  fanoutSetting,
  loadRegions,
  type Fanout,
  type Regions,
} from "../../regions/schema.ts";
import { dynamoClient, Inbox } from "../shared/inbox.ts";
import { withDefaults } from "../shared/options.ts";
import { allocatePorts, type Ports, type RegionPorts } from "./ports.ts";
import { EndpointProxy } from "./proxy.ts";
import type { LocalSecrets } from "./secrets.ts";
import {
  checkPrerequisites,
  redisPing,
  startDynalite,
  startRedis,
  startZooKeeper,
  stopProcess,
  waitFor,
  zkMode,
} from "./services.ts";

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface LocalOptions {
  /** Folder for logs and data; wiped at start. */
  readonly dir: string;
  readonly secrets: LocalSecrets;
  /** Regions to run. @default every file in regions/ */
  readonly regions?: Regions;
  /** Run only these region ids. @default all */
  readonly only?: readonly string[];
  /** WSS processes per region. @default 2 */
  readonly wssPerRegion?: number;
  /** ZooKeeper nodes per region: 1 (standalone) or 3 (an ensemble). @default 1 */
  readonly zkEnsemble?: 1 | 3;
  /** Run a Redis replica per region behind a movable primary endpoint. @default false */
  readonly redisReplica?: boolean;
  /** How messages reach the WSSs. @default the fanout of regions/deployment.json */
  readonly fanout?: Fanout;
  /** Extra environment for every app process (timeouts in tests, log level). */
  readonly appEnv?: Readonly<Record<string, string>>;
  /** Abort start-up after this long. @default 60000 */
  readonly readyTimeoutMs?: number;
}

export type ProcessKind = "redis" | "zookeeper" | "dynamo" | "cs" | "wss";

/** One process of the local system, and how to start it again. */
export interface LocalProcess {
  readonly name: string;
  readonly kind: ProcessKind;
  readonly region?: string;
  readonly port: number;
  readonly launch: () => ChildProcess;
  proc: ChildProcess;
}

export interface RegionEndpoints {
  readonly wss: string[];
  readonly cs: string;
  readonly redis: string;
  readonly zookeeper: string;
}

export interface LocalStatus {
  readonly pid: number;
  readonly dir: string;
  readonly dynamo: string;
  readonly fanout: Fanout;
  readonly regions: Record<string, RegionEndpoints>;
}

const DEFAULTS = Object.freeze({
  wssPerRegion: 2,
  zkEnsemble: 1 as const,
  redisReplica: false,
  readyTimeoutMs: 120_000,
});
const STOP_ORDER: readonly ProcessKind[] = ["wss", "cs", "redis", "zookeeper", "dynamo"];

export class LocalSystem {
  readonly processes = new Map<string, LocalProcess>();
  private readonly proxies = new Map<string, EndpointProxy>();
  private readonly o: Required<LocalOptions>;
  private stopped = false;

  private constructor(
    options: LocalOptions,
    readonly status: LocalStatus,
    private readonly ports: Ports,
  ) {
    this.o = withDefaults(DEFAULTS, options);
  }

  get options(): Required<LocalOptions> {
    return this.o;
  }

  /** Starts everything and resolves once every process is ready. */
  static async start(options: LocalOptions): Promise<LocalSystem> {
    checkPrerequisites();
    const o = withDefaults(DEFAULTS, options);
    const all = options.regions ?? loadRegions();
    const ids = [...all.keys()].filter(
      (id) => !options.only || options.only.includes(id),
    );
    rmSync(o.dir, { recursive: true, force: true });
    mkdirSync(o.dir, { recursive: true });

    const ports = await allocatePorts(ids, o);
    const regions: Record<string, RegionEndpoints> = {};
    for (const id of ids) {
      const p = ports.regions[id]!;
      regions[id] = {
        wss: p.wss.map((port) => `ws://127.0.0.1:${port}/v1/ws`),
        cs: `http://127.0.0.1:${p.cs}`,
        redis: `redis://127.0.0.1:${p.redisEndpoint}`,
        zookeeper: p.zk.map((z) => `127.0.0.1:${z.client}`).join(","),
      };
    }
    const status = {
      pid: process.pid,
      dir: o.dir,
      dynamo: `http://127.0.0.1:${ports.dynamo}`,
      fanout: options.fanout ?? fanoutSetting(process.env.CHAT_FANOUT),
      regions,
    };
    const system = new LocalSystem(options, status, ports);

    try {
      await system.startBackends(ids);
      await system.startApps(ids);
    } catch (err) {
      await system.stop();
      throw err;
    }
    return system;
  }

  /** Stops every process, apps first, and the endpoints. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const kind of STOP_ORDER) {
      const procs = [...this.processes.values()].filter((p) => p.kind === kind);
      await Promise.all(procs.map((p) => stopProcess(p.proc)));
    }
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }

  get(name: string): LocalProcess {
    const p = this.processes.get(name);
    if (!p)
      throw new Error(`no local process ${name}; have ${[...this.processes.keys()]}`);
    return p;
  }

  /** The processes of one region. */
  ofRegion(region: string): LocalProcess[] {
    return [...this.processes.values()].filter((p) => p.region === region);
  }

  /** Sends a signal and, for SIGKILL and SIGTERM, waits for the exit. */
  async signal(name: string, signal: NodeJS.Signals): Promise<void> {
    const p = this.get(name);
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.proc.once("exit", () => r()));
    p.proc.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM") await exited;
  }

  /** Starts a process again (stopping it first if it runs) and waits until it is ready. */
  async restart(name: string): Promise<void> {
    const p = this.get(name);
    if (p.proc.exitCode === null && p.proc.signalCode === null) await stopProcess(p.proc);
    p.proc = p.launch();
    await this.waitReady(p);
  }

  /** SIGKILLs every process of a region, apps first: the region is gone. */
  async killRegion(region: string): Promise<void> {
    for (const kind of STOP_ORDER) {
      const procs = this.ofRegion(region).filter((p) => p.kind === kind);
      await Promise.all(procs.map((p) => this.signal(p.name, "SIGKILL")));
    }
  }

  /** Starts every process of a region again, backends first. */
  async restoreRegion(region: string): Promise<void> {
    for (const kind of [...STOP_ORDER].reverse()) {
      const procs = this.ofRegion(region).filter((p) => p.kind === kind);
      await Promise.all(procs.map((p) => this.restart(p.name)));
    }
  }

  /**
   * Fails a region's Redis over to its replica: the replica is promoted, the
   * old primary becomes its replica, and the endpoint moves to the new primary.
   * Open connections stay where they were (writes there now get READONLY).
   */
  async failoverRedis(region: string): Promise<{ from: number; to: number }> {
    const proxy = this.proxies.get(region);
    if (!proxy)
      throw new Error(`region ${region} runs no Redis replica; start with redisReplica`);

    const from = proxy.targetPort;
    const p = this.ports.regions[region]!;
    const to = from === p.redis ? p.redisReplica! : p.redis;
    await this.redisCommand(to, ["REPLICAOF", "NO", "ONE"]);
    await this.redisCommand(from, ["REPLICAOF", "127.0.0.1", String(to)]);
    proxy.retarget(to);
    return { from, to };
  }

  /** The port the region's Redis endpoint currently forwards to (the primary). */
  redisPrimaryPort(region: string): number {
    return this.proxies.get(region)?.targetPort ?? this.ports.regions[region]!.redis;
  }

  private async startBackends(ids: string[]): Promise<void> {
    const { dir, secrets } = this.o;
    const dynamoDir = join(dir, "dynamo");
    this.add(
      "dynamo",
      "dynamo",
      undefined,
      this.ports.dynamo,
      () => startDynalite("dynamo", dynamoDir, this.ports.dynamo).proc,
    );
    for (const id of ids) {
      const p = this.ports.regions[id]!;
      const redis = (name: string, port: number, replicaOf?: number) => () =>
        startRedis(name, {
          dir: join(dir, name),
          port,
          password: secrets.redisPassword,
          replicaOf,
        }).proc;
      this.add(`${id}-redis`, "redis", id, p.redis, redis(`${id}-redis`, p.redis));
      if (p.redisReplica) {
        const name = `${id}-redis-replica`;
        this.add(name, "redis", id, p.redisReplica, redis(name, p.redisReplica, p.redis));
        this.proxies.set(id, await EndpointProxy.start(p.redisEndpoint, p.redis));
      }
      this.addZooKeeper(id, p);
    }
    await Promise.all([...this.processes.values()].map((b) => this.waitReady(b)));
    await new Inbox(dynamoClient(this.status.dynamo, "local")).ensureTables();
  }

  private addZooKeeper(id: string, p: RegionPorts): void {
    const peers = p.zk.map((z, i) => ({
      id: i + 1,
      peerPort: z.peer,
      electionPort: z.election,
    }));
    p.zk.forEach((z, i) => {
      const name = p.zk.length === 1 ? `${id}-zk` : `${id}-zk-${i + 1}`;
      const ensemble = p.zk.length === 1 ? undefined : { myId: i + 1, peers };
      const zkDir = join(this.o.dir, name);
      this.add(
        name,
        "zookeeper",
        id,
        z.client,
        () => startZooKeeper(name, { dir: zkDir, port: z.client, ensemble }).proc,
      );
    });
  }

  private async startApps(ids: string[]): Promise<void> {
    const { secrets, appEnv } = this.o;
    const started: LocalProcess[] = [];
    for (const id of ids) {
      const p = this.ports.regions[id]!;
      const ep = this.status.regions[id]!;
      const peers = Object.fromEntries(
        Object.entries(this.status.regions)
          .filter(([other]) => other !== id)
          .map(([other, e]) => [other, e.cs]),
      );
      const common: NodeJS.ProcessEnv = {
        ...process.env,
        CHAT_REGION: id,
        CHAT_HOST: "127.0.0.1",
        CHAT_REDIS_URL: ep.redis,
        CHAT_REDIS_PASSWORD: secrets.redisPassword,
        CHAT_DYNAMO_ENDPOINT: this.status.dynamo,
        CHAT_JWT_SECRET: secrets.jwtSecret,
        CHAT_INTERNAL_SECRET: secrets.internalSecret,
        CHAT_EXIT_WITH_PARENT: "1",
        AWS_REGION: "local",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        CHAT_FANOUT: this.status.fanout,
        ...appEnv,
      };
      const cs = `${id}-cs`;
      const csEnv: NodeJS.ProcessEnv = {
        ...common,
        CHAT_PORT: String(p.cs),
        CHAT_CS_ID: cs,
        CHAT_CS_PEERS: JSON.stringify(peers),
      };
      started.push(this.addApp(cs, "cs", id, p.cs, "apps/chat-server/main.ts", csEnv));
      p.wss.forEach((port, i) => {
        const name = `${id}-wss-${i + 1}`;
        const env = {
          ...common,
          CHAT_PORT: String(port),
          CHAT_WSS_ID: name,
          CHAT_ZK_CONNECT: ep.zookeeper,
          CHAT_ZK_DIGEST: zkDigestOf(secrets),
          CHAT_CS_URL: ep.cs,
        };
        started.push(this.addApp(name, "wss", id, port, "apps/wss/main.ts", env));
      });
    }
    await Promise.all(started.map((a) => this.waitReady(a)));
  }

  private addApp(
    name: string,
    kind: "cs" | "wss",
    region: string,
    port: number,
    script: string,
    env: NodeJS.ProcessEnv,
  ): LocalProcess {
    return this.add(name, kind, region, port, () => {
      const log = openSync(join(this.o.dir, `${name}.log`), "a");
      const proc = spawn(
        process.execPath,
        ["--import", "tsx", join(PROJECT_ROOT, script)],
        {
          cwd: PROJECT_ROOT,
          env,
          stdio: ["pipe", log, log],
        },
      );
      proc.on("error", () => undefined);
      proc.stdin?.on("error", () => undefined);
      return proc;
    });
  }

  private add(
    name: string,
    kind: ProcessKind,
    region: string | undefined,
    port: number,
    launch: () => ChildProcess,
  ): LocalProcess {
    const lp: LocalProcess = { name, kind, region, port, launch, proc: launch() };
    this.processes.set(name, lp);
    return lp;
  }

  private async redisCommand(port: number, args: string[]): Promise<unknown> {
    const r = new Redis({
      port,
      host: "127.0.0.1",
      password: this.o.secrets.redisPassword,
    });
    r.on("error", () => undefined);
    try {
      return await r.call(args[0]!, ...args.slice(1));
    } finally {
      r.disconnect();
    }
  }

  private async waitReady(p: LocalProcess): Promise<void> {
    const check = readinessCheck(p, this.o.secrets.redisPassword);
    await waitFor(`${p.name} (port ${p.port})`, check, this.o.readyTimeoutMs, p.proc);
  }
}

/** The ZooKeeper digest credential of local mode's apps. */
export function zkDigestOf(secrets: LocalSecrets): string {
  return `chat:${secrets.zkPassword}`;
}

function readinessCheck(p: LocalProcess, redisPassword: string): () => Promise<boolean> {
  switch (p.kind) {
    case "zookeeper":
      return async () => (await zkMode(p.port)) !== undefined;
    case "redis":
      return () => redisPing(`redis://127.0.0.1:${p.port}`, redisPassword);
    case "dynamo":
      return async () =>
        (await fetch(`http://127.0.0.1:${p.port}/`).catch(() => null)) !== null;
    default:
      return async () => {
        const res = await fetch(`http://127.0.0.1:${p.port}/readyz`, {
          signal: AbortSignal.timeout(2000),
        });
        return res.status === 200;
      };
  }
}
