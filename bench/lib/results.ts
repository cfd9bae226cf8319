// Results on disk: one JSON file per benchmark under bench/results/, each
// with the machine it was measured on and the run it belongs to.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { MachineInfo } from "./machine.ts";
import { PROJECT_ROOT } from "./procs.ts";

export const RESULTS_DIR = join(PROJECT_ROOT, "bench", "results");

export interface ResultFile<T> {
  readonly bench: string;
  /** Identifies one `npm run bench` invocation; ratios compare within one run only. */
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly data: T;
}

export function writeResult<T>(r: ResultFile<T>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${r.bench}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(r, null, 2) + "\n");
  renameSync(`${file}.tmp`, file);
  return file;
}

export function readResult<T>(bench: string): ResultFile<T> | undefined {
  const file = join(RESULTS_DIR, `${bench}.json`);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as ResultFile<T>;
}
