// What every benchmark is given by the runner, and small helpers they share.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { cpuSeconds } from "./procs.ts";
import type { SystemName, Target } from "./targets.ts";

export interface BenchContext {
  /** Short counts and durations, for trying the benchmarks out. */
  readonly quick: boolean;
  /** Systems to measure (ours and the peers by default). */
  readonly systems: readonly SystemName[];
  /** Write CPU profiles of the servers here (`--profile`). */
  readonly profileDir?: string;
  log(message: string): void;
}

/** Users `r0:usa`, `r1:usa`, ...: client i's home is server i mod servers. */
export function userName(i: number): string {
  return `r${i}:usa`;
}

/** The URLs client `i` tries: its home server first, then the others in turn. */
export function urlsFor(target: Target, i: number): string[] {
  const n = target.urls.length;
  return Array.from({ length: n }, (_, k) => target.urls[(i + k) % n]!);
}

/** Measures the CPU the given processes use between `start()` and `stop()`. */
export class CpuMeter {
  private before: number[] = [];
  private t0 = 0;

  constructor(private readonly pids: () => number[]) {}

  start(): void {
    this.before = this.pids().map(cpuSeconds);
    this.t0 = performance.now();
  }

  /** Share of one core used by each process since `start()` (NaN: it is gone). */
  stop(): number[] {
    const seconds = (performance.now() - this.t0) / 1000;
    return this.pids().map((pid, i) => {
      const now = cpuSeconds(pid);
      if (now === 0) return NaN;
      return Math.round(((now - (this.before[i] ?? 0)) / seconds) * 100) / 100;
    });
  }
}

/** Node flags that write CPU profiles to `<profileDir>/<name>/` when profiling is on. */
export function profileFlags(ctx: BenchContext, name: string): string[] {
  return cpuProfFlags(ctx.profileDir, name);
}

/**
 * `--cpu-prof` into a folder of its own (tsx's loader thread writes a profile
 * too, so the main thread's is the largest file there), and a heap snapshot
 * into the same folder on SIGUSR2.
 */
export function cpuProfFlags(profileDir: string | undefined, name: string): string[] {
  if (!profileDir) return [];
  const dir = join(profileDir, name);
  mkdirSync(dir, { recursive: true });
  return [
    "--cpu-prof",
    `--cpu-prof-dir=${dir}`,
    "--heapsnapshot-signal=SIGUSR2",
    `--diagnostic-dir=${dir}`,
  ];
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** a / b, rounded, or null when either is missing. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !b) return null;
  return round(a / b);
}
