// `npm run bench` runs every benchmark; `npm run bench -- <name>...` only
// those. Options: --quick (small counts, short steps, for trying things out),
// --only=ours,gateway (systems to measure), --profile (CPU profiles and heap
// snapshots of the servers under $TMPDIR/chat-bench-profiles/), --no-report
// (leave the doc alone).
// Results go to bench/results/<name>.json; the table and chart in
// docs/benchmarks.md are written from them.
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { runDelivery } from "./delivery.ts";
import { runE2e } from "./e2e.ts";
import { runGroups } from "./groups.ts";
import type { BenchContext } from "./lib/context.ts";
import { machineInfo } from "./lib/machine.ts";
import { cleanupAll } from "./lib/procs.ts";
import { writeResult } from "./lib/results.ts";
import { SYSTEMS, type SystemName } from "./lib/targets.ts";
import { runMemory } from "./memory.ts";
import { writeReport } from "./report.ts";
import { runStorm } from "./storm.ts";
import { runSynth } from "./synth-run.ts";

/** Profiles and heap snapshots are large: they go outside the work tree. */
const PROFILE_DIR = join(tmpdir(), "chat-bench-profiles");

const BENCHES: Record<string, (ctx: BenchContext) => Promise<unknown>> = {
  delivery: runDelivery,
  e2e: runE2e,
  groups: runGroups,
  memory: runMemory,
  storm: runStorm,
  synth: runSynth,
};

async function main(argv: string[]): Promise<number> {
  // The inbox client in this process would warn about Node 20 on every run.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const flags = argv.filter((a) => a.startsWith("--"));
  const names = argv.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark ${unknown.join(", ")}; have ${Object.keys(BENCHES)}`,
    );
    return 2;
  }
  const only = flags.find((f) => f.startsWith("--only="))?.slice("--only=".length);
  const systems = only ? (only.split(",") as SystemName[]) : SYSTEMS;
  if (!systems.every((s) => SYSTEMS.includes(s))) {
    console.error(`--only takes some of ${SYSTEMS.join(",")}`);
    return 2;
  }
  const quick = flags.includes("--quick");
  const runId = `${new Date().toISOString().slice(0, 19)}-${randomBytes(2).toString("hex")}`;
  const ctx: BenchContext = {
    quick,
    systems,
    profileDir: flags.includes("--profile") ? PROFILE_DIR : undefined,
    log: (m) => console.log(m),
  };
  const machine = machineInfo();
  console.log(
    `bench ${runId}: ${machine.nproc} cores, ${machine.memoryGiB} GiB, node ` +
      `${machine.node}, load ${machine.loadAvg1}, CPU pressure ${machine.cpuPressure60}%` +
      (quick ? " (quick)" : ""),
  );

  let failed = 0;
  for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    // The machine as this benchmark found it (the load of others changes).
    const machineNow = machineInfo();
    try {
      const data = await BENCHES[name]!(ctx);
      const file = writeResult({
        bench: name,
        runId,
        startedAt,
        finishedAt: new Date().toISOString(),
        quick,
        machine: machineNow,
        data,
      });
      const s = Math.round((performance.now() - t0) / 1000);
      console.log(`${name}: done in ${s} s -> ${file}`);
    } catch (err) {
      failed++;
      console.error(`${name} failed:`, err);
    } finally {
      await cleanupAll();
    }
  }
  if (!flags.includes("--no-report")) {
    const doc = await writeReport();
    console.log(`report: ${doc}`);
  }
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error(err);
    await cleanupAll();
    process.exit(1);
  },
);
