// The backing services of local mode, each a child process on a free loopback
// port: redis-server, a ZooKeeper server (standalone or one node of an
// ensemble) and dynalite, the DynamoDB-compatible store.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { join } from "node:path";

import { Redis } from "ioredis";

/** A child process this runtime started, and how to reach it. */
export interface Service {
  readonly name: string;
  readonly port: number;
  readonly proc: ChildProcess;
}

export class MissingPackageError extends Error {
  constructor(what: string, pkg: string) {
    super(
      `${what} is not installed; install it with: ` +
        `sudo apt-get update && sudo apt-get install -y ${pkg}`,
    );
    this.name = "MissingPackageError";
  }
}

const REDIS_SERVER = "/usr/bin/redis-server";
const ZK_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"];
const require = createRequire(import.meta.url);

/** Fails with the install command when redis-server or ZooKeeper is missing. */
export function checkPrerequisites(): void {
  if (!existsSync(REDIS_SERVER))
    throw new MissingPackageError("redis-server", "redis-server");
  if (!ZK_JARS.every(existsSync)) throw new MissingPackageError("ZooKeeper", "zookeeper");
  if (!existsSync("/usr/bin/java")) throw new MissingPackageError("java", "zookeeper");
}

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the given binary with its output appended to `logFile`. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const out = openSync(logFile, "a");
  const proc = spawn(command, args, { stdio: ["ignore", out, out], env });
  proc.on("error", () => {
    // Reported through the readiness check and the exit event.
  });
  Object.defineProperty(proc, "serviceName", { value: name });
  return proc;
}

export interface RedisOptions {
  readonly dir: string;
  readonly port: number;
  readonly password: string;
  /** Start as a replica of this port. */
  readonly replicaOf?: number;
}

export function startRedis(name: string, o: RedisOptions): Service {
  mkdirSync(o.dir, { recursive: true });
  const args = [
    "--bind",
    "127.0.0.1",
    "--port",
    String(o.port),
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
    "--dir",
    o.dir,
    "--requirepass",
    o.password,
    "--masterauth",
    o.password,
    "--logfile",
    "",
  ];
  if (o.replicaOf) args.push("--replicaof", "127.0.0.1", String(o.replicaOf));
  const proc = startProcess(name, REDIS_SERVER, args, join(o.dir, "redis.log"));
  return { name, port: o.port, proc };
}

export interface ZkOptions {
  readonly dir: string;
  readonly port: number;
  /** For an ensemble: this node's id (1-based) and every node's peer/election ports. */
  readonly ensemble?: { readonly myId: number; readonly peers: readonly ZkPeer[] };
}

export interface ZkPeer {
  readonly id: number;
  readonly peerPort: number;
  readonly electionPort: number;
}

export function startZooKeeper(name: string, o: ZkOptions): Service {
  const dataDir = join(o.dir, "data");
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(join(o.dir, "tmp"), { recursive: true });

  const lines = [
    "tickTime=500",
    `dataDir=${dataDir}`,
    `clientPort=${o.port}`,
    "clientPortAddress=127.0.0.1",
    "maxClientCnxns=0",
    "minSessionTimeout=1000",
    "maxSessionTimeout=60000",
    "admin.enableServer=false",
    "4lw.commands.whitelist=ruok,srvr,stat,mntr,cons",
  ];
  let main = "org.apache.zookeeper.server.ZooKeeperServerMain";
  if (o.ensemble) {
    main = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
    lines.push("initLimit=10", "syncLimit=5");
    for (const p of o.ensemble.peers) {
      lines.push(`server.${p.id}=127.0.0.1:${p.peerPort}:${p.electionPort}`);
    }
    writeFileSync(join(dataDir, "myid"), `${o.ensemble.myId}\n`);
  }
  const cfg = join(o.dir, "zoo.cfg");
  writeFileSync(cfg, lines.join("\n") + "\n");

  const args = [
    "-XX:-UsePerfData",
    "-Xmx64m",
    "-Xms16m",
    `-Djava.io.tmpdir=${join(o.dir, "tmp")}`,
    "-cp",
    ZK_JARS.join(":"),
    main,
    cfg,
  ];
  const proc = startProcess(name, "/usr/bin/java", args, join(o.dir, "zookeeper.log"));
  return { name, port: o.port, proc };
}

export function startDynalite(name: string, dir: string, port: number): Service {
  mkdirSync(dir, { recursive: true });
  const cli = require.resolve("dynalite/cli.js");
  const args = [
    cli,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--createTableMs",
    "20",
  ];
  args.push("--deleteTableMs", "20", "--updateTableMs", "20", "--path", join(dir, "db"));
  const proc = startProcess(name, process.execPath, args, join(dir, "dynalite.log"));
  return { name, port, proc };
}

/** Sends a four-letter word to a ZooKeeper port and returns the answer. */
export function zkFourLetter(
  port: number,
  word: string,
  timeoutMs = 1000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    let data = "";
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error("timeout")));
    sock.on("connect", () => sock.write(word));
    sock.on("data", (d) => (data += d.toString()));
    sock.on("end", () => resolve(data));
    sock.on("error", reject);
    sock.on("close", () => resolve(data));
  });
}

/** The `Mode:` a ZooKeeper server reports (standalone, leader, follower), or undefined. */
export async function zkMode(port: number): Promise<string | undefined> {
  try {
    const out = await zkFourLetter(port, "srvr");
    return /^Mode: (\S+)/m.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

/** Resolves once `check` returns true; rejects with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  proc?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.exitCode !== null) {
      throw new Error(`${what} exited with code ${proc.exitCode} before it was ready`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${what} was not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True when something accepts TCP connections on the port. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    sock.setTimeout(500, () => sock.destroy());
    sock.on("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.on("error", () => resolve(false));
    sock.on("close", () => resolve(false));
  });
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it has exited. */
export async function stopProcess(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;

  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** True when the Redis at `url` answers PING with `password`; never retries. */
export async function redisPing(url: string, password: string): Promise<boolean> {
  const r = new Redis(url, {
    password,
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
}
