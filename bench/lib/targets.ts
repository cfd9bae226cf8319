// The systems under test, started the same way for every benchmark: ours (the
// local system of one region, `usa`) and the two peers, each peer with a
// redis-server of its own on a free loopback port. A target knows its server
// processes (for RSS, CPU and kills) and stops everything it started.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { LocalSystem } from "../../apps/local/runtime.ts";
import type { LocalSecrets } from "../../apps/local/secrets.ts";
import { freePort, redisPing, startRedis, waitFor } from "../../apps/local/services.ts";
import { secretKey, signUserToken } from "../../apps/shared/auth.ts";
import type { Fanout } from "../../regions/schema.ts";
import type { Proto } from "../load/protocol.ts";
import { cpuProfFlags } from "./context.ts";
import { DynamoProxy } from "./dynamo-proxy.ts";
import { onCleanup, spawnTs, stopChild, track } from "./procs.ts";

export type SystemName = "ours" | "gateway" | "socketio";
export const SYSTEMS: readonly SystemName[] = ["ours", "gateway", "socketio"];

export interface Target {
  readonly name: SystemName;
  readonly proto: Proto;
  /** Client URL of each server process. */
  readonly urls: readonly string[];
  /** The Redis the servers subscribe to. */
  readonly redis: { readonly url: string; readonly password: string };
  serverPid(i: number): number;
  /** The PID of that Redis. */
  redisPid(): number;
  /** Every process of the system under test, by name. */
  processes(): { readonly name: string; readonly pid: number }[];
  /** SIGKILLs server `i` and waits for it to be gone. */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
  /** Only for ours. */
  readonly ours?: OursExtras;
}

export interface OursExtras {
  readonly system: LocalSystem;
  readonly cs: string;
  readonly zkPort: number;
  readonly dynamoPid: number;
  /** Counts requests to the inbox store, when asked for. */
  readonly proxy?: DynamoProxy;
  token(user: string): Promise<string>;
}

export interface StartOptions {
  /** Server processes (WSS, gateways, Socket.IO nodes). */
  readonly servers: number;
  /** Write CPU profiles of the servers (and of ours' chat server) here. */
  readonly profileDir?: string;
  /** Ours: put a request-counting proxy in front of the inbox store. */
  readonly countInbox?: boolean;
  /** Ours: how stored messages reach the WSSs. @default regions/deployment.json's */
  readonly fanout?: Fanout;
}

export function startTarget(name: SystemName, o: StartOptions): Promise<Target> {
  return name === "ours" ? startOurs(o) : startPeer(name, o);
}

async function startOurs(o: StartOptions): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "chat-bench-"));
  const secrets = randomSecrets();
  const proxy = o.countInbox ? await DynamoProxy.start() : undefined;
  const appEnv: Record<string, string> = proxy ? { CHAT_DYNAMO_ENDPOINT: proxy.url } : {};
  let system: LocalSystem | undefined;
  const own: (ChildProcess | undefined)[] = [];
  const stop = async () => {
    await Promise.all(own.map((p) => p && stopChild(p)));
    await system?.stop();
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onCleanup(stop);
  try {
    system = await LocalSystem.start({
      dir,
      secrets,
      only: ["usa"],
      wssPerRegion: o.servers,
      fanout: o.fanout,
      appEnv,
    });
  } catch (err) {
    const logs = logTails(dir);
    await stop();
    unregister();
    throw new Error(`${String(err)}\n${logs}`, { cause: err });
  }
  const sys = system;
  const region = sys.status.regions.usa!;
  const wssNames = region.wss.map((_, i) => `usa-wss-${i + 1}`);
  if (o.profileDir) {
    mkdirSync(o.profileDir, { recursive: true });
    for (const [i, name] of [...wssNames, "usa-cs"].entries()) {
      own[i] = await respawnProfiled(sys, name, o.profileDir, dir);
    }
  }
  const key = secretKey(secrets.jwtSecret);
  const pidOf = (i: number) => own[i]?.pid ?? sys.get(wssNames[i]!).proc.pid ?? 0;
  return {
    name: "ours",
    proto: "chat",
    urls: region.wss,
    redis: { url: region.redis, password: secrets.redisPassword },
    serverPid: pidOf,
    redisPid: () => sys.get("usa-redis").proc.pid ?? 0,
    processes: () =>
      [...sys.processes.values()].map((p) => {
        const i = [...wssNames, "usa-cs"].indexOf(p.name);
        return { name: p.name, pid: own[i]?.pid ?? p.proc.pid ?? 0 };
      }),
    async kill(i) {
      const mine = own[i];
      if (!mine) return sys.signal(wssNames[i]!, "SIGKILL");
      const gone = new Promise((r) => mine.once("exit", r));
      mine.kill("SIGKILL");
      await gone;
    },
    async stop() {
      unregister();
      await stop();
    },
    ours: {
      system: sys,
      cs: region.cs,
      zkPort: Number(region.zookeeper.split(":")[1]),
      dynamoPid: sys.get("dynamo").proc.pid ?? 0,
      proxy,
      token: (user) => signUserToken(key, user),
    },
  };
}

/**
 * Replaces an app process of the local system by one started here with
 * `--cpu-prof`, with exactly the environment the original had (read from
 * /proc), on the same port. The profile is written when it exits.
 */
async function respawnProfiled(
  sys: LocalSystem,
  name: string,
  profileDir: string,
  logDir: string,
): Promise<ChildProcess> {
  const p = sys.get(name);
  const environ = readFileSync(`/proc/${p.proc.pid}/environ`, "utf8");
  const env = Object.fromEntries(
    environ
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  const script = p.kind === "cs" ? "apps/chat-server/main.ts" : "apps/wss/main.ts";
  await sys.signal(name, "SIGTERM");
  const proc = spawnTs(script, {
    env,
    nodeFlags: cpuProfFlags(profileDir, name),
    logFile: join(logDir, `${name}.profiled.log`),
  });
  await waitFor(
    `${name} (profiled)`,
    async () => (await fetch(`http://127.0.0.1:${p.port}/readyz`)).status === 200,
    30_000,
    proc,
  );
  return proc;
}

async function startPeer(name: "gateway" | "socketio", o: StartOptions): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), `chat-bench-${name}-`));
  const password = randomBytes(16).toString("base64url");
  const redisPort = await freePort();
  const servers: ChildProcess[] = [];
  let redisProc: ChildProcess | undefined;
  const stop = async () => {
    await Promise.all(servers.map((p) => stopChild(p, 3000)));
    if (redisProc) await stopChild(redisProc, 3000);
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onCleanup(stop);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const urls: string[] = [];
  try {
    redisProc = track(
      startRedis(`${name}-redis`, { dir: join(dir, "redis"), port: redisPort, password })
        .proc,
    );
    await waitFor(
      `${name} redis`,
      () => redisPing(redisUrl, password),
      20_000,
      redisProc,
    );
    for (let i = 0; i < o.servers; i++) {
      const port = await freePort();
      const proc = spawnTs(`bench/peers/${name}.ts`, {
        ipc: true,
        env: {
          ...process.env,
          PEER_PORT: String(port),
          PEER_REDIS_URL: redisUrl,
          PEER_REDIS_PASSWORD: password,
        },
        logFile: join(dir, `${name}-${i + 1}.log`),
        nodeFlags: cpuProfFlags(o.profileDir, `${name}-${i + 1}`),
      });
      servers.push(proc);
      await new Promise<void>((resolve, reject) => {
        proc.once("message", () => resolve());
        proc.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
      });
      urls.push(`ws://127.0.0.1:${port}${name === "gateway" ? "/" : ""}`);
    }
  } catch (err) {
    unregister();
    await stop();
    throw err;
  }
  return {
    name,
    proto: name,
    urls,
    redis: { url: redisUrl, password },
    serverPid: (i) => servers[i]?.pid ?? 0,
    redisPid: () => redisProc?.pid ?? 0,
    processes: () => [
      ...servers.map((p, i) => ({ name: `${name}-${i + 1}`, pid: p.pid ?? 0 })),
      { name: "redis", pid: redisProc?.pid ?? 0 },
    ],
    async kill(i) {
      const p = servers[i]!;
      const gone = new Promise((r) => p.once("exit", r));
      p.kill("SIGKILL");
      await gone;
    },
    async stop() {
      unregister();
      await stop();
    },
  };
}

/** The last lines of every app log in `dir`, for an error message. */
function logTails(dir: string): string {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".log"))
      .map((f) => {
        const lines = readFileSync(join(dir, f), "utf8").trimEnd().split("\n");
        return `--- ${f}\n${lines.slice(-5).join("\n")}`;
      })
      .join("\n");
  } catch {
    return "";
  }
}

/** Fresh random secrets for every field local mode has (whatever it grows). */
function randomSecrets(): LocalSecrets {
  const fields = ["jwtSecret", "internalSecret", "redisPassword", "zkPassword"];
  return Object.fromEntries(
    fields.map((f) => [f, randomBytes(32).toString("base64url")]),
  ) as unknown as LocalSecrets;
}
