// Synthesizes every stack in fresh processes and reports, as JSON on stdout, the wall
// time (process start to stacks written) and peak RSS of each run against the budget
// of 2 s and 300 MB. Usage: `npm run bench:synth [-- --runs 5]`.
//
// Each run is a child `node --import tsx bench/synth.ts --child <outdir>` that imports
// the app, synthesizes into a temporary folder and reports its own timings and
// `maxRSS`; the parent also times the child from spawn to exit.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The budget the issue sets for synthesizing every stack on a 2-core machine. */
const LIMITS = Object.freeze({ wallMs: 2000, peakRssMiB: 300 });
const DEFAULT_RUNS = 3;

/** What a child run reports about itself. */
interface ChildReport {
  readonly importMs: number;
  readonly buildMs: number;
  readonly synthMs: number;
  /** From process start (before any module loads) to the stacks being written. */
  readonly uptimeMs: number;
  /** CPU time of the child, all threads: less sensitive to a busy machine than wall. */
  readonly cpuMs: number;
  readonly maxRssKiB: number;
  readonly stacks: string[];
}

interface RunReport extends ChildReport {
  /** From spawning the child to its exit, as a caller such as `cdktf synth` sees it. */
  readonly spawnToExitMs: number;
}

if (process.argv[2] === "--child") {
  await child(process.argv[3]!);
} else {
  await parent(readRuns(process.argv.slice(2)));
}

async function child(outdir: string): Promise<void> {
  const started = performance.now();
  const { buildApp } = await import("../infra/main.ts");
  const imported = performance.now();
  const { app } = buildApp({ outdir });
  const built = performance.now();
  app.synth();
  const done = performance.now();

  const report: ChildReport = {
    importMs: round(imported - started),
    buildMs: round(built - imported),
    synthMs: round(done - built),
    uptimeMs: round(process.uptime() * 1000),
    cpuMs: round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
    maxRssKiB: process.resourceUsage().maxRSS,
    stacks: readdirSync(join(outdir, "stacks")).sort(),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function parent(runs: number): Promise<void> {
  const script = fileURLToPath(import.meta.url);
  const reports: RunReport[] = [];
  for (let i = 0; i < runs; i++) {
    const outdir = mkdtempSync(join(tmpdir(), "chat-bench-synth-"));
    try {
      reports.push(await runChild(script, outdir));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }

  const wall = summary(reports.map((r) => r.uptimeMs));
  const rss = summary(reports.map((r) => r.maxRssKiB / 1024));
  const result = {
    benchmark: "synth-all-stacks",
    stacks: reports[0]?.stacks ?? [],
    runs,
    wallMs: wall,
    spawnToExitMs: summary(reports.map((r) => r.spawnToExitMs)),
    cpuMs: summary(reports.map((r) => r.cpuMs)),
    phasesMs: {
      import: summary(reports.map((r) => r.importMs)),
      build: summary(reports.map((r) => r.buildMs)),
      synth: summary(reports.map((r) => r.synthMs)),
    },
    peakRssMiB: rss,
    limits: LIMITS,
    withinLimits: wall.max < LIMITS.wallMs && rss.max < LIMITS.peakRssMiB,
    machine: {
      node: process.version,
      cpus: availableParallelism(),
      platform: process.platform,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.withinLimits) process.exitCode = 1;
}

function runChild(script: string, outdir: string): Promise<RunReport> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const proc = spawn(process.execPath, ["--import", "tsx", script, "--child", outdir], {
      env: { ...process.env, CDKTF_OUTDIR: outdir },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    proc.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    proc.on("error", reject);
    proc.on("close", (code) => {
      const spawnToExitMs = round(performance.now() - started);
      if (code !== 0) {
        reject(new Error(`synth child exited with ${code}: ${stdout}`));
        return;
      }
      resolve({ ...(JSON.parse(stdout) as ChildReport), spawnToExitMs });
    });
  });
}

function readRuns(args: string[]): number {
  const at = args.indexOf("--runs");
  if (at === -1) return DEFAULT_RUNS;

  const runs = Number(args[at + 1]);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`--runs takes a positive integer, got "${args[at + 1] ?? ""}"`);
  }
  return runs;
}

function summary(values: number[]): { median: number; max: number; min: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    max: round(sorted[sorted.length - 1] ?? 0),
    min: round(sorted[0] ?? 0),
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
