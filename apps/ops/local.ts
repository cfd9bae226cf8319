// chatctl local up | status: the whole system on this machine.
import { existsSync, mkdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";

import { FANOUT_MODES, type Fanout } from "../../regions/schema.ts";
import { ConsoleServer } from "../console/server.ts";
import { LocalSystem, type LocalStatus } from "../local/runtime.ts";
import { loadOrCreateSecrets } from "../local/secrets.ts";
import { parse, pidAlive, readState, UsageError } from "./cli.ts";
import { LOCAL_DIR, RUN_DIR, SECRETS_FILE, STATE_FILE } from "./paths.ts";
import { readFileSync } from "node:fs";

export async function localUp(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      only: { type: "string" },
      wss: { type: "string" },
      "zk-ensemble": { type: "string" },
      "redis-replica": { type: "boolean" },
      "console-port": { type: "string" },
      fanout: { type: "string" },
    },
    0,
  );
  const fanout = values.fanout;
  if (fanout !== undefined && !(FANOUT_MODES as readonly string[]).includes(fanout)) {
    throw new UsageError(`--fanout must be one of ${FANOUT_MODES.join(", ")}`);
  }
  const zkEnsemble =
    values["zk-ensemble"] === undefined ? 1 : Number(values["zk-ensemble"]);
  if (zkEnsemble !== 1 && zkEnsemble !== 3) {
    throw new UsageError(
      "--zk-ensemble must be 1 (standalone) or 3 (an ensemble per region)",
    );
  }
  const wssPerRegion = values.wss === undefined ? 2 : Number(values.wss);
  if (!Number.isInteger(wssPerRegion) || wssPerRegion < 1 || wssPerRegion > 8) {
    throw new UsageError("--wss must be a number of WSS per region from 1 to 8");
  }
  const consolePort = Number(values["console-port"] ?? 0);
  if (!Number.isInteger(consolePort) || consolePort < 0 || consolePort > 65535) {
    throw new UsageError("--console-port must be a port number (0 picks a free one)");
  }
  if (existsSync(STATE_FILE)) {
    const prior = JSON.parse(readFileSync(STATE_FILE, "utf8")) as LocalState;
    if (pidAlive(prior.pid)) {
      throw new Error(
        `the local system is already running (pid ${prior.pid}); stop it first`,
      );
    }
    const stopped = stopLeftovers(prior);
    if (stopped > 0) {
      process.stderr.write(
        `stopped ${stopped} process(es) left by a run that was killed\n`,
      );
    }
  }

  mkdirSync(LOCAL_DIR, { recursive: true });
  const secrets = loadOrCreateSecrets(SECRETS_FILE);
  const only = values.only?.split(",").map((s) => s.trim());
  process.stderr.write(
    "starting redis, zookeeper, the inbox store, chat servers and WSSs...\n",
  );
  const started = Date.now();
  const system = await LocalSystem.start({
    dir: RUN_DIR,
    secrets,
    only,
    wssPerRegion,
    zkEnsemble,
    redisReplica: values["redis-replica"] === true,
    fanout: fanout as Fanout | undefined,
  });
  // The local console (apps/console): a page over this system, on 127.0.0.1 only.
  const web = await ConsoleServer.start({ system, port: consolePort }).catch(
    async (err) => {
      await system.stop();
      throw err;
    },
  );
  const children = [...system.processes.values()].map((p) => ({
    name: p.name,
    pid: p.proc.pid ?? 0,
  }));
  const state: LocalState = { ...system.status, console: web.url, children };
  writeFileSync(STATE_FILE, JSON.stringify(state, null, 2) + "\n");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping everything...\n`);
    await web.close();
    await system.stop();
    rmSync(STATE_FILE, { force: true });
    process.stderr.write("stopped.\n");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGHUP", () => void stop("SIGHUP"));

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`\nlocal system up in ${seconds}s (logs in ${RUN_DIR})\n\n`);
  process.stdout.write(endpointTable(system.status));
  process.stdout.write(`\nconsole: ${web.url}\n`);
  process.stdout.write(
    "\nChat from two terminals:\n  npx chatctl chat alice:usa\n  npx chatctl chat bob:eu\n" +
      "Then type: bob:eu hello\nCtrl-C stops everything.\n",
  );

  for (const p of system.processes.values()) {
    p.proc.on("exit", (code, signal) => {
      if (!stopping) process.stderr.write(`${p.name} exited (${signal ?? code})\n`);
    });
  }
  await new Promise(() => undefined);
  return 0;
}

export async function localStatus(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: "boolean" } }, 0);
  const state = readState();
  const health: Record<string, boolean> = {};
  const probes: Promise<void>[] = [];
  for (const region of Object.values(state.regions)) {
    for (const url of [region.cs, ...region.wss]) {
      const http = url.replace(/^ws/, "http").replace(/\/v1\/ws$/, "");
      probes.push(
        fetch(`${http}/readyz`, { signal: AbortSignal.timeout(2000) })
          .then((r) => void (health[url] = r.status === 200))
          .catch(() => void (health[url] = false)),
      );
    }
  }
  await Promise.all(probes);

  if (values.json) {
    process.stdout.write(JSON.stringify({ ...state, ready: health }, null, 2) + "\n");
  } else {
    process.stdout.write(endpointTable(state, health));
  }
  return Object.values(health).every(Boolean) ? 0 : 1;
}

function endpointTable(s: LocalStatus, health?: Record<string, boolean>): string {
  const rows: string[][] = [
    ["region", "component", "endpoint", ...(health ? ["ready"] : [])],
  ];
  const mark = (url: string) => (health ? [health[url] ? "yes" : "NO"] : []);
  for (const [id, r] of Object.entries(s.regions)) {
    r.wss.forEach((url) => rows.push([id, "wss", url, ...mark(url)]));
    rows.push([id, "chat server", r.cs, ...mark(r.cs)]);
    rows.push([id, "redis", r.redis, ...(health ? [""] : [])]);
    rows.push([id, "zookeeper", r.zookeeper, ...(health ? [""] : [])]);
  }
  rows.push(["all", "inbox (dynalite)", s.dynamo, ...(health ? [""] : [])]);
  rows.push(["all", "fan-out", s.fanout ?? "per-user", ...(health ? [""] : [])]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join("  ")
          .trimEnd(),
      )
      .join("\n") + "\n"
  );
}

/** What `local up` records in the state file. */
interface LocalState extends LocalStatus {
  readonly console?: string;
  /** The child processes, so that a later run can stop them if this one is killed. */
  readonly children?: readonly { readonly name: string; readonly pid: number }[];
}

/**
 * SIGKILLs the processes a killed `local up` left running (redis-server,
 * ZooKeeper and dynalite do not notice their parent's death). A pid counts
 * only while its command line or working folder is inside the run folder, so a
 * pid reused by something else is left alone.
 */
function stopLeftovers(prior: LocalState): number {
  let stopped = 0;
  for (const child of prior.children ?? []) {
    if (!child.pid || !pidAlive(child.pid) || !ownedByRun(child.pid)) continue;
    try {
      process.kill(child.pid, "SIGKILL");
      stopped++;
    } catch {
      // Gone in the meantime.
    }
  }
  return stopped;
}

function ownedByRun(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    return cmdline.includes(RUN_DIR) || cwd.startsWith(RUN_DIR);
  } catch {
    return false;
  }
}
