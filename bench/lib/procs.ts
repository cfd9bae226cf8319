// Child processes a benchmark starts, and what the kernel says about them.
// Every child is tracked by PID and stopped when the benchmark ends, fails or
// is interrupted; nothing is ever stopped by name.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { PROJECT_ROOT } from "../../apps/local/runtime.ts";
import { stopProcess } from "../../apps/local/services.ts";

export { PROJECT_ROOT };

type Cleanup = () => Promise<void>;

const children = new Set<ChildProcess>();
const cleanups: Cleanup[] = [];
let handlersInstalled = false;

export interface SpawnTsOptions {
  /** Environment of the child. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Flags for node itself, before `--import tsx` (e.g. `--cpu-prof`). */
  readonly nodeFlags?: readonly string[];
  /** File that receives the child's stdout and stderr. @default inherited */
  readonly logFile?: string;
  /** Open an IPC channel (process.send) to the child. @default false */
  readonly ipc?: boolean;
}

/** Starts `node --import tsx <script>` (a path under the project root) and tracks it. */
export function spawnTs(script: string, o: SpawnTsOptions = {}): ChildProcess {
  installHandlers();
  const out = o.logFile ? openSync(o.logFile, "a") : "inherit";
  const stdio: ("pipe" | "inherit" | "ipc" | number)[] = ["pipe", out, out];
  if (o.ipc) stdio.push("ipc");
  const proc = spawn(
    process.execPath,
    [...(o.nodeFlags ?? []), "--import", "tsx", join(PROJECT_ROOT, script)],
    { cwd: PROJECT_ROOT, env: o.env ?? process.env, stdio },
  );
  return track(proc);
}

/** Tracks a child started elsewhere so that it is killed if the bench dies. */
export function track(proc: ChildProcess): ChildProcess {
  installHandlers();
  children.add(proc);
  proc.on("error", () => undefined);
  proc.stdin?.on("error", () => undefined);
  proc.once("exit", () => children.delete(proc));
  return proc;
}

/** Registers `fn` to run on cleanup; returns a function that unregisters it. */
export function onCleanup(fn: Cleanup): () => void {
  installHandlers();
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Runs every registered cleanup (newest first), then stops remaining children. */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    await fn().catch((err: unknown) => console.error("cleanup failed:", err));
  }
  await Promise.all([...children].map((c) => stopProcess(c, 3000)));
}

/** Stops one child: SIGTERM, SIGKILL after `graceMs`. */
export function stopChild(proc: ChildProcess, graceMs = 5000): Promise<void> {
  return stopProcess(proc, graceMs);
}

/** Resident set size of a process, in KiB (0 when it is gone). */
export function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** User plus system CPU time a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at index 2.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return 0;
  }
}

/** The PIDs of this process's direct children (read from /proc). */
export function childPids(): number[] {
  try {
    const raw = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8");
    return raw.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The command line of a process, arguments joined by spaces. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: stopping everything the benchmark started`);
    void cleanupAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // Last resort when the process exits without cleaning up: no orphans. Every
  // direct child of this process (the local system's servers included) was
  // started by this benchmark.
  process.once("exit", () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }
    for (const pid of childPids()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  });
}
