// What a result was measured on: cores, memory, load, versions of Node, of
// the servers and of the packages that matter to the figures.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";

import { PROJECT_ROOT } from "./procs.ts";

export interface MachineInfo {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  /** 1-minute load average when the benchmark started (other work on the machine). */
  readonly loadAvg1: number;
  /** /proc/pressure/cpu `some avg60` at the start: % of time work waited for a core. */
  readonly cpuPressure60?: number;
  readonly node: string;
  readonly redisServer: string;
  readonly zookeeper: string;
  readonly packages: Record<string, string>;
}

const PACKAGES = [
  "ws",
  "ioredis",
  "socket.io",
  "socket.io-client",
  "@socket.io/redis-adapter",
  "dynalite",
  "zookeeper",
  "hdr-histogram-js",
  "tsx",
  "vega",
  "vega-lite",
];

export function machineInfo(): MachineInfo {
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) packages[name] = packageVersion(name);
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAvg1: Math.round(loadavg()[0]! * 100) / 100,
    cpuPressure60: cpuPressure60(),
    node: process.version,
    redisServer: run("/usr/bin/redis-server", ["--version"]).replace(
      /^Redis server v=(\S+).*$/s,
      "$1",
    ),
    zookeeper: zookeeperVersion(),
    packages,
  };
}

function cpuPressure60(): number | undefined {
  try {
    const m = /some avg10=[\d.]+ avg60=([\d.]+)/.exec(
      readFileSync("/proc/pressure/cpu", "utf8"),
    );
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function packageVersion(name: string): string {
  try {
    const file = join(PROJECT_ROOT, "node_modules", name, "package.json");
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "missing";
  }
}

function zookeeperVersion(): string {
  const out = run("dpkg-query", ["-W", "-f=${Version}", "zookeeper"]);
  return out || "unknown";
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", timeout: 5000 }).trim();
  } catch {
    return "";
  }
}
