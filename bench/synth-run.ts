// Benchmark 5, synth, is bench/synth.ts (written apart): this runs it as
// `npx tsx bench/synth.ts` and keeps what it printed, so that its figures land
// in the same results folder and table as the others.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import type { BenchContext } from "./lib/context.ts";
import { PROJECT_ROOT, track } from "./lib/procs.ts";

export interface SynthData {
  /** False when bench/synth.ts does not exist (yet). */
  readonly available: boolean;
  readonly exitCode?: number | null;
  readonly ms?: number;
  /** Its JSON report, as printed. */
  readonly report?: unknown;
  /** Its output when that was not JSON. */
  readonly output?: string;
}

const SCRIPT = join(PROJECT_ROOT, "bench", "synth.ts");
const TIMEOUT_MS = 5 * 60_000;

export async function runSynth(ctx: BenchContext): Promise<SynthData> {
  if (!existsSync(SCRIPT)) {
    ctx.log("synth: bench/synth.ts is not there; pending");
    return { available: false };
  }
  ctx.log("synth: npx tsx bench/synth.ts");
  const t0 = performance.now();
  const proc = track(
    spawn("npx", ["tsx", SCRIPT], {
      cwd: PROJECT_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => proc.kill("SIGKILL"), TIMEOUT_MS);
  const exitCode = await new Promise<number | null>((r) => proc.once("exit", r));
  clearTimeout(timer);
  const ms = Math.round(performance.now() - t0);
  const json = out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1);
  try {
    const report: unknown = JSON.parse(json);
    ctx.log(`  synth exited ${exitCode} in ${ms} ms`);
    return { available: true, exitCode, ms, report };
  } catch {
    ctx.log(`  synth exited ${exitCode}; output was not JSON`);
    return { available: true, exitCode, ms, output: out.slice(-4000) };
  }
}
