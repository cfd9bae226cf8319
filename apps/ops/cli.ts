// Argument parsing shared by the chatctl commands.
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";

import type { LocalStatus } from "../local/runtime.ts";
import { STATE_FILE } from "./paths.ts";

/** A mistake in the command line: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  positionals: number,
) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`);
  }
  return parsed;
}

/** The running local system's endpoints, or an error saying how to start it. */
export function readState(): LocalStatus {
  let text: string;
  try {
    text = readFileSync(STATE_FILE, "utf8");
  } catch {
    throw new Error("the local system is not running; start it with: npm start");
  }
  const state = JSON.parse(text) as LocalStatus;
  if (!pidAlive(state.pid)) {
    throw new Error(
      "the local system is not running (stale state file); start it with: npm start",
    );
  }
  return state;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
