// Local mode: every region of regions/ on this machine, each with its own
// redis-server, ZooKeeper, chat server and WSSs, plus one DynamoDB-compatible
// server standing in for the global inbox table. Used by `chatctl local up`,
// the tests and the drills.
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdirSync, openSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { Redis } from "ioredis";

import { loadRegions, type Regions } from "../../regions/schema.ts";
import { dynamoClient, Inbox } from "../shared/inbox.ts";
import type { LocalSecrets } from "./secrets.ts";
import {
  checkPrerequisites,
  freePort,
  startDynalite,
  startRedis,
  startZooKeeper,
  stopProcess,
  waitFor,
  zkMode,
  type Service,
} from "./services.ts";
import { withDefaults } from "../shared/options.ts";

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
  /** Extra environment for every app process (timeouts in tests, log level). */
  readonly appEnv?: Readonly<Record<string, string>>;
  /** Abort start-up after this long. @default 60000 */
  readonly readyTimeoutMs?: number;
}

/** One process of the local system. */
export interface LocalProcess {
  readonly name: string;
  readonly kind: "redis" | "zookeeper" | "dynamo" | "cs" | "wss";
  readonly region?: string;
  readonly port: number;
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
  readonly regions: Record<string, RegionEndpoints>;
}

const DEFAULTS = Object.freeze({ wssPerRegion: 2, readyTimeoutMs: 60_000 });

export class LocalSystem {
  readonly processes = new Map<string, LocalProcess>();
  private readonly appSpecs = new Map<
    string,
    { script: string; env: NodeJS.ProcessEnv }
  >();
  private stopped = false;

  private constructor(
    readonly options: LocalOptions,
    readonly status: LocalStatus,
  ) {}

  /** Starts everything and resolves once every process is ready. */
  static async start(options: LocalOptions): Promise<LocalSystem> {
    checkPrerequisites();
    const o = withDefaults(DEFAULTS, options);
    const all = o.regions ?? loadRegions();
    const ids = [...all.keys()].filter((id) => !o.only || o.only.includes(id));
    rmSync(o.dir, { recursive: true, force: true });
    mkdirSync(o.dir, { recursive: true });

    const ports = await allocatePorts(ids, o.wssPerRegion);
    const regions: Record<string, RegionEndpoints> = {};
    for (const id of ids) {
      const p = ports.regions[id]!;
      regions[id] = {
        wss: p.wss.map((port) => `ws://127.0.0.1:${port}/v1/ws`),
        cs: `http://127.0.0.1:${p.cs}`,
        redis: `redis://127.0.0.1:${p.redis}`,
        zookeeper: `127.0.0.1:${p.zk}`,
      };
    }
    const status: LocalStatus = {
      pid: process.pid,
      dir: o.dir,
      dynamo: `http://127.0.0.1:${ports.dynamo}`,
      regions,
    };
    const system = new LocalSystem(o, status);

    try {
      await system.startBackends(ids, ports);
      await system.startApps(ids, ports, o.wssPerRegion);
    } catch (err) {
      await system.stop();
      throw err;
    }
    return system;
  }

  /** Stops every process, apps first. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const order: LocalProcess["kind"][] = ["wss", "cs", "redis", "zookeeper", "dynamo"];
    for (const kind of order) {
      const procs = [...this.processes.values()].filter((p) => p.kind === kind);
      await Promise.all(procs.map((p) => stopProcess(p.proc)));
    }
  }

  get(name: string): LocalProcess {
    const p = this.processes.get(name);
    if (!p)
      throw new Error(
        `no local process named ${name}; have ${[...this.processes.keys()]}`,
      );
    return p;
  }

  /** Sends a signal and, for SIGKILL and SIGTERM, waits for the exit. */
  async signal(name: string, signal: NodeJS.Signals): Promise<void> {
    const p = this.get(name);
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.proc.once("exit", () => r()));
    p.proc.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM") await exited;
  }

  /** Starts a stopped process again on the same port and waits until it is ready. */
  async restart(name: string): Promise<void> {
    const p = this.get(name);
    if (p.proc.exitCode === null && p.proc.signalCode === null) {
      await stopProcess(p.proc);
    }
    const app = this.appSpecs.get(name);
    if (app) {
      p.proc = this.spawnApp(name, app.script, app.env);
      await this.waitReady(p);
      return;
    }
    if (p.kind === "redis") {
      p.proc = startRedis(name, this.redisOptions(name, p.port)).proc;
    } else if (p.kind === "zookeeper") {
      p.proc = startZooKeeper(name, {
        dir: join(this.options.dir, name),
        port: p.port,
      }).proc;
    } else {
      p.proc = startDynalite(name, join(this.options.dir, name), p.port).proc;
    }
    await this.waitReady(p);
  }

  private async startBackends(ids: string[], ports: Ports): Promise<void> {
    const backends: LocalProcess[] = [];
    const dyn = startDynalite("dynamo", join(this.options.dir, "dynamo"), ports.dynamo);
    backends.push(this.track(dyn, "dynamo"));
    for (const id of ids) {
      const p = ports.regions[id]!;
      const redis = startRedis(`${id}-redis`, this.redisOptions(`${id}-redis`, p.redis));
      backends.push(this.track(redis, "redis", id));
      const zk = startZooKeeper(`${id}-zk`, {
        dir: join(this.options.dir, `${id}-zk`),
        port: p.zk,
      });
      backends.push(this.track(zk, "zookeeper", id));
    }
    await Promise.all(backends.map((b) => this.waitReady(b)));

    const inbox = new Inbox(dynamoClient(this.status.dynamo, "local"));
    await inbox.ensureTables();
  }

  private async startApps(
    ids: string[],
    ports: Ports,
    wssPerRegion: number,
  ): Promise<void> {
    const { secrets, appEnv } = this.options;
    const apps: LocalProcess[] = [];
    for (const id of ids) {
      const p = ports.regions[id]!;
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
        CHAT_ZK_CONNECT: ep.zookeeper,
        CHAT_ZK_DIGEST: zkDigestOf(secrets),
        CHAT_DYNAMO_ENDPOINT: this.status.dynamo,
        CHAT_JWT_SECRET: secrets.jwtSecret,
        CHAT_INTERNAL_SECRET: secrets.internalSecret,
        CHAT_EXIT_WITH_PARENT: "1",
        AWS_REGION: "local",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        ...appEnv,
      };
      const csName = `${id}-cs`;
      const csEnv = {
        ...common,
        CHAT_PORT: String(p.cs),
        CHAT_CS_ID: csName,
        CHAT_CS_PEERS: JSON.stringify(peers),
      };
      apps.push(
        this.launchApp(csName, "cs", id, p.cs, "apps/chat-server/main.ts", csEnv),
      );
      for (let i = 0; i < wssPerRegion; i++) {
        const name = `${id}-wss-${i + 1}`;
        const env = {
          ...common,
          CHAT_PORT: String(p.wss[i]),
          CHAT_WSS_ID: name,
          CHAT_CS_URL: ep.cs,
        };
        apps.push(this.launchApp(name, "wss", id, p.wss[i]!, "apps/wss/main.ts", env));
      }
    }
    await Promise.all(apps.map((a) => this.waitReady(a)));
  }

  private launchApp(
    name: string,
    kind: "cs" | "wss",
    region: string,
    port: number,
    script: string,
    env: NodeJS.ProcessEnv,
  ): LocalProcess {
    this.appSpecs.set(name, { script, env });
    const proc = this.spawnApp(name, script, env);
    const lp: LocalProcess = { name, kind, region, port, proc };
    this.processes.set(name, lp);
    return lp;
  }

  private spawnApp(name: string, script: string, env: NodeJS.ProcessEnv): ChildProcess {
    const log = openSync(join(this.options.dir, `${name}.log`), "a");
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
  }

  private track(s: Service, kind: LocalProcess["kind"], region?: string): LocalProcess {
    const lp: LocalProcess = { name: s.name, kind, region, port: s.port, proc: s.proc };
    this.processes.set(s.name, lp);
    return lp;
  }

  private redisOptions(name: string, port: number) {
    return {
      dir: join(this.options.dir, name),
      port,
      password: this.options.secrets.redisPassword,
    };
  }

  private async waitReady(p: LocalProcess): Promise<void> {
    const timeout = this.options.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs;
    const check = readinessCheck(p, this.options.secrets.redisPassword);
    await waitFor(`${p.name} (port ${p.port})`, check, timeout, p.proc);
  }
}

function readinessCheck(p: LocalProcess, redisPassword: string): () => Promise<boolean> {
  switch (p.kind) {
    case "zookeeper":
      return async () => (await zkMode(p.port)) !== undefined;
    case "redis":
      return async () => {
        const r = new Redis({
          port: p.port,
          host: "127.0.0.1",
          password: redisPassword,
          lazyConnect: true,
          retryStrategy: () => null,
          maxRetriesPerRequest: 0,
        });
        r.on("error", () => undefined);
        try {
          await r.connect();
          return (await r.ping()) === "PONG";
        } finally {
          r.disconnect();
        }
      };
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

interface Ports {
  readonly dynamo: number;
  readonly regions: Record<
    string,
    { redis: number; zk: number; cs: number; wss: number[] }
  >;
}

async function allocatePorts(ids: string[], wssPerRegion: number): Promise<Ports> {
  const taken = new Set<number>();
  const next = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const regions: Ports["regions"] = {};
  for (const id of ids) {
    const wss: number[] = [];
    for (let i = 0; i < wssPerRegion; i++) wss.push(await next());
    regions[id] = { redis: await next(), zk: await next(), cs: await next(), wss };
  }
  return { dynamo: await next(), regions };
}

/** The ZooKeeper digest credential of local mode's apps. */
export function zkDigestOf(secrets: LocalSecrets): string {
  return `chat:${secrets.zkPassword}`;
}
